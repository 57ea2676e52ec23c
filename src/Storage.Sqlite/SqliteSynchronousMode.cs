namespace KataWorkflows.Storage.Sqlite;

/// <summary>How hard SQLite waits for the disk at each commit (<c>PRAGMA synchronous</c>).</summary>
public enum SqliteSynchronousMode
{
    /// <summary>
    /// Every commit is flushed to disk before it returns: a committed batch survives a power loss. The default.
    /// </summary>
    Full = 0,

    /// <summary>
    /// The write-ahead log is flushed only at checkpoints: the database stays consistent, but the last commits
    /// before a power loss (not a process crash) may be lost.
    /// </summary>
    Normal = 1,
}
