using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.Storage.Sqlite;

/// <summary>
/// Copies the write-ahead log back into the database file on a thread of its own, so the writer never does. With
/// SQLite's automatic checkpoint the commit that crosses 1000 WAL pages copies them and syncs the database file
/// before it returns, which stalls the group commit (and, with <c>synchronous=NORMAL</c>, is the only disk flush
/// the writer ever waits for). The writer connection therefore runs with <c>wal_autocheckpoint=0</c> and this
/// connection runs a <c>PASSIVE</c> checkpoint at most every <see cref="Interval"/> while commits arrive.
/// </summary>
/// <remarks>
/// A checkpoint only moves pages that are already durable in the WAL, so it changes nothing about what a commit
/// guarantees. <c>PASSIVE</c> takes no lock the writer or the readers wait for; the writer starts the WAL over
/// at its next transaction once a checkpoint got through all of it. Under steady load that never happens by
/// itself (the writer appends while this thread copies), and the WAL would grow for as long as the load lasts:
/// every commit then extends the file, and its fsync also commits the file system's metadata. So after each round
/// the writer copies the remainder itself, between two groups (<see cref="TakeRoundDone"/>).
/// </remarks>
internal sealed class SqliteWalCheckpointer : IDisposable
{
    /// <summary>How long commits may pile up in the WAL before the next checkpoint.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _checkpoint;
    private readonly string _path;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly Thread _thread;
    private bool _committed;
    private bool _roundDone;
    private bool _stopping;

    public SqliteWalCheckpointer(SqliteConnection connection, string path, ILogger logger)
    {
        _connection = connection;
        _path = path;
        _logger = logger;
        _checkpoint = connection.CreateCommand();
        _checkpoint.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
        _thread = new Thread(Run) { IsBackground = true, Name = "KataWorkflows SQLite checkpointer" };
    }

    public void Start() => _thread.Start();

    /// <summary>Called by the writer after every commit; cheap, it only sets a flag.</summary>
    public void Committed() => Volatile.Write(ref _committed, true);

    /// <summary>
    /// True once after each checkpoint of this thread: the writer then checkpoints the few frames committed while
    /// it ran, between two groups, so that its next transaction starts the WAL over instead of appending to it.
    /// </summary>
    public bool TakeRoundDone() => Volatile.Read(ref _roundDone) && Interlocked.Exchange(ref _roundDone, false);

    /// <summary>Stops the thread after the checkpoint in progress, if any.</summary>
    public void Stop()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.Pulse(_gate);
        }

        if (_thread.ThreadState != ThreadState.Unstarted)
        {
            _thread.Join();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _checkpoint.Dispose();
        _connection.Dispose();
    }

    private void Run()
    {
        while (true)
        {
            lock (_gate)
            {
                if (!_stopping)
                {
                    Monitor.Wait(_gate, Interval);
                }

                if (_stopping)
                {
                    return;
                }
            }

            if (!Volatile.Read(ref _committed))
            {
                continue;
            }

            Volatile.Write(ref _committed, false);
            try
            {
                _checkpoint.ExecuteNonQuery();
                Volatile.Write(ref _roundDone, true);
            }
            catch (SqliteException ex)
            {
                // The pages stay in the WAL, where readers find them; the next round tries again.
                Log.CheckpointFailed(_logger, _path, ex.Message);
            }
        }
    }
}
