using KataWorkflows.Engine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.Storage.Sqlite;

/// <summary>Selects the SQLite backend for the engine.</summary>
public static class SqliteEngineBuilderExtensions
{
    /// <summary>Stores everything in one SQLite database file.</summary>
    /// <param name="builder">The engine builder.</param>
    /// <param name="configure">Sets the options; <see cref="SqliteStoreOptions.Path"/> is required.</param>
    /// <exception cref="ArgumentException">The options are not valid; the message names the property.</exception>
    public static DurableTaskEngineBuilder UseSqlite(this DurableTaskEngineBuilder builder, Action<SqliteStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new SqliteStoreOptions();
        configure(options);
        options.Validate();
        return builder.UseBackend(sp => new SqliteStoreBackend(options, sp.GetService<ILogger<SqliteStoreBackend>>()));
    }
}
