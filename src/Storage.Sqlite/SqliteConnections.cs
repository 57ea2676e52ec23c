using System.Globalization;
using Microsoft.Data.Sqlite;

namespace KataWorkflows.Storage.Sqlite;

/// <summary>Opens and configures the writer's and the readers' connections.</summary>
internal static class SqliteConnections
{
    /// <summary>A collation equal to <see cref="StringComparison.OrdinalIgnoreCase"/>, which SQLite's NOCASE (ASCII only) is not.</summary>
    public const string OrdinalIgnoreCase = "KATA_ORDINAL_IGNORE_CASE";

    /// <summary>Opens the one connection that writes: WAL, the configured durability, no foreign keys.</summary>
    public static SqliteConnection OpenWriter(string path, SqliteStoreOptions options)
    {
        var connection = new SqliteConnection(ConnectionString(path, SqliteOpenMode.ReadWriteCreate, options));
        try
        {
            connection.Open();
            SetBusyTimeout(connection, options);
            var mode = ExecuteScalar(connection, "PRAGMA journal_mode=WAL") as string;
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"the file system does not allow write-ahead logging (journal mode stayed '{mode}')");
            }

            var (setting, expected) = options.Synchronous == SqliteSynchronousMode.Full ? ("FULL", 2L) : ("NORMAL", 1L);
            Execute(connection, "PRAGMA synchronous=" + setting);
            if (ExecuteScalar(connection, "PRAGMA synchronous") is not long actual || actual != expected)
            {
                throw new InvalidOperationException($"SQLite did not accept synchronous={setting}");
            }
            Execute(connection, "PRAGMA foreign_keys=OFF");

            // SqliteWalCheckpointer checkpoints on its own connection, so no commit waits for one.
            Execute(connection, "PRAGMA wal_autocheckpoint=0");
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Opens the connection of the WAL checkpointer; a checkpoint syncs the files as the configured durability says.</summary>
    public static SqliteConnection OpenCheckpointer(string path, SqliteStoreOptions options)
    {
        var connection = new SqliteConnection(ConnectionString(path, SqliteOpenMode.ReadWrite, options));
        try
        {
            connection.Open();
            SetBusyTimeout(connection, options);
            Execute(connection, "PRAGMA synchronous=" + (options.Synchronous == SqliteSynchronousMode.Full ? "FULL" : "NORMAL"));
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Opens a connection that only reads. In WAL mode it sees the last committed transaction, never the writer's open one.</summary>
    public static SqliteConnection OpenReader(string path, SqliteStoreOptions options)
    {
        var connection = new SqliteConnection(ConnectionString(path, SqliteOpenMode.ReadWrite, options));
        try
        {
            connection.Open();
            SetBusyTimeout(connection, options);
            Execute(connection, "PRAGMA query_only=ON");
            connection.CreateCollation(OrdinalIgnoreCase, static (x, y) => string.Compare(x, y, StringComparison.OrdinalIgnoreCase));
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Runs a statement that returns nothing.</summary>
    public static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>Runs a statement and returns the first column of its first row.</summary>
    public static object? ExecuteScalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static void SetBusyTimeout(SqliteConnection connection, SqliteStoreOptions options) =>
        Execute(connection, string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout={(long)options.BusyTimeout.TotalMilliseconds}"));

    private static string ConnectionString(string path, SqliteOpenMode mode, SqliteStoreOptions options) =>
        new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = mode,
            Cache = SqliteCacheMode.Private,

            // The backend keeps its own connections for its whole life; a pool would only keep the file open after dispose.
            Pooling = false,

            // Microsoft.Data.Sqlite retries SQLITE_BUSY for the command timeout; 0 would mean forever.
            DefaultTimeout = Math.Max(1, (int)Math.Ceiling(options.BusyTimeout.TotalSeconds)),
        }.ToString();
}
