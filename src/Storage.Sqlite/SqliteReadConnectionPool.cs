using Microsoft.Data.Sqlite;

namespace KataWorkflows.Storage.Sqlite;

/// <summary>
/// A few open read-only connections, reused across reads. WAL lets them read beside the writer; each sees the
/// last committed transaction. More readers than the pool keeps open get a connection of their own, closed after.
/// </summary>
internal sealed class SqliteReadConnectionPool(string path, SqliteStoreOptions options, int keepOpen) : IDisposable
{
    private readonly Lock _sync = new();
    private readonly Stack<SqliteConnection> _idle = new();
    private bool _disposed;

    /// <summary>Takes an idle connection or opens one.</summary>
    public SqliteConnection Rent()
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_idle.TryPop(out var connection))
            {
                return connection;
            }
        }

        return SqliteConnections.OpenReader(path, options);
    }

    /// <summary>Gives a connection back; it is closed when the pool is full or disposed.</summary>
    public void Return(SqliteConnection connection)
    {
        lock (_sync)
        {
            if (!_disposed && _idle.Count < keepOpen && connection.State == System.Data.ConnectionState.Open)
            {
                _idle.Push(connection);
                return;
            }
        }

        connection.Dispose();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        SqliteConnection[] idle;
        lock (_sync)
        {
            _disposed = true;
            idle = [.. _idle];
            _idle.Clear();
        }

        foreach (var connection in idle)
        {
            connection.Dispose();
        }
    }
}
