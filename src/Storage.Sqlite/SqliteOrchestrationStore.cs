using KataWorkflows.Engine.Storage;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.Storage.Sqlite;

/// <summary>Creates an <see cref="OrchestrationStore"/> over a SQLite database, for tools and tests without a host.</summary>
public static class SqliteOrchestrationStore
{
    /// <summary>A store over a new <see cref="SqliteStoreBackend"/>; call <see cref="OrchestrationStore.StartAsync"/> to open it.</summary>
    /// <param name="options">The backend options; <see cref="SqliteStoreOptions.Path"/> is required.</param>
    /// <param name="time">The clock of the store; the system clock when null.</param>
    /// <param name="loggers">Creates the store's and the backend's loggers; nothing is logged when null.</param>
    /// <exception cref="ArgumentException">The options are not valid; the message names the property.</exception>
    public static OrchestrationStore Create(SqliteStoreOptions options, TimeProvider? time = null, ILoggerFactory? loggers = null) =>
        new(new SqliteStoreBackend(options, loggers?.CreateLogger<SqliteStoreBackend>()), time, loggers?.CreateLogger<OrchestrationStore>());
}
