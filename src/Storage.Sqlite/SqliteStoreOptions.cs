namespace KataWorkflows.Storage.Sqlite;

/// <summary>Options of the SQLite store backend.</summary>
public sealed class SqliteStoreOptions
{
    /// <summary>The largest <see cref="BusyTimeout"/> accepted.</summary>
    public static readonly TimeSpan MaxBusyTimeout = TimeSpan.FromMilliseconds(int.MaxValue);

    /// <summary>The database file. Its directory is created when missing; a <c>.lock</c> file is kept beside it. Required.</summary>
    public string Path { get; set; } = string.Empty;

    /// <summary>How hard each commit waits for the disk. Defaults to <see cref="SqliteSynchronousMode.Full"/>.</summary>
    public SqliteSynchronousMode Synchronous { get; set; } = SqliteSynchronousMode.Full;

    /// <summary>How long a statement waits for a lock held by another connection before it fails. Defaults to 5 seconds.</summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The most store batches one group-commit transaction carries. Defaults to 256.</summary>
    public int MaxBatchSize { get; set; } = 256;

    /// <summary>Checks the options; the message names the bad property.</summary>
    /// <exception cref="ArgumentException">A property is missing or out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
        {
            throw new ArgumentException("Path is required: the SQLite database file.", nameof(Path));
        }

        if (Path.AsSpan().IndexOfAny(System.IO.Path.GetInvalidPathChars()) >= 0)
        {
            throw new ArgumentException($"Path '{Path}' contains characters that are not valid in a path.", nameof(Path));
        }

        if (!Enum.IsDefined(Synchronous))
        {
            throw new ArgumentException($"Synchronous must be Full or Normal, not {(int)Synchronous}.", nameof(Synchronous));
        }

        if (BusyTimeout < TimeSpan.Zero || BusyTimeout > MaxBusyTimeout)
        {
            throw new ArgumentException($"BusyTimeout must be between 0 and {MaxBusyTimeout}, not {BusyTimeout}.", nameof(BusyTimeout));
        }

        if (MaxBatchSize < 1)
        {
            throw new ArgumentException($"MaxBatchSize must be at least 1, not {MaxBatchSize}.", nameof(MaxBatchSize));
        }
    }
}
