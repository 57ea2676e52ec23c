using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Storage.Sqlite.Tests;

/// <summary>A database file in a fresh temp directory, removed with it.</summary>
internal sealed class TempDatabase : IDisposable
{
    public TempDatabase()
    {
        Directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kata-sqlite-" + Guid.NewGuid().ToString("N"));
        Path = System.IO.Path.Combine(Directory, "store.db");
    }

    public string Directory { get; }

    public string Path { get; }

    public SqliteStoreOptions Options(SqliteSynchronousMode synchronous = SqliteSynchronousMode.Full, int maxBatchSize = 256) =>
        new() { Path = Path, Synchronous = synchronous, MaxBatchSize = maxBatchSize };

    public SqliteStoreBackend NewBackend(SqliteSynchronousMode synchronous = SqliteSynchronousMode.Full, int maxBatchSize = 256) =>
        new(Options(synchronous, maxBatchSize));

    /// <summary>A raw connection of the test's own, outside the backend.</summary>
    public SqliteConnection OpenRaw()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    public object? Scalar(string sql)
    {
        using var connection = OpenRaw();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    public static readonly DateTime T0 = new(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static OrchestrationMetadata Instance(string id, OrchestrationRuntimeStatus status = OrchestrationRuntimeStatus.Running, DateTime? created = null, string name = "wf") => new()
    {
        InstanceId = id,
        Name = name,
        ExecutionId = "e1",
        Status = status,
        CreatedAt = created ?? T0,
        LastUpdatedAt = created ?? T0,
        SerializedInput = "\"in\"",
    };

    public static HistoryEvent Event(int id) => new()
    {
        EventId = id,
        Timestamp = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(T0),
        TimerFired = new TimerFiredEvent { TimerId = id },
    };

    public static ActivityRequest Activity(string instanceId, int taskId) => new()
    {
        Name = "act",
        TaskId = taskId,
        OrchestrationInstance = new OrchestrationInstance { InstanceId = instanceId, ExecutionId = "e1" },
    };
}
