using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataWorkflows.Storage.Sqlite;

/// <summary>
/// An <see cref="IStoreBackend"/> on one SQLite database file. Writes go through a single writer that group-commits
/// waiting batches in one transaction (one disk flush for many callers); reads use a small pool of separate
/// connections that WAL lets run beside the writer. A lock file beside the database keeps a second process out.
/// </summary>
public sealed partial class SqliteStoreBackend : IStoreBackend
{
    private const int ReadConnectionsKeptOpen = 4;

    // errno EWOULDBLOCK on Linux and macOS, and Windows' ERROR_SHARING_VIOLATION / ERROR_LOCK_VIOLATION.
    private static readonly int[] LockHeldResults = [11, 35, unchecked((int)0x80070020), unchecked((int)0x80070021)];

    private static readonly byte[] SqliteHeader = "SQLite format 3\0"u8.ToArray();

    private readonly SqliteStoreOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _openGate = new(1, 1);
    private FileStream? _lockFile;
    private SqliteBatchWriter? _writer;
    private SqliteReadConnectionPool? _readers;
    private int _disposed;

    /// <summary>Creates the backend; nothing is opened until <see cref="OpenAsync"/>.</summary>
    /// <exception cref="ArgumentException">The options are not valid; the message names the property.</exception>
    public SqliteStoreBackend(SqliteStoreOptions options, ILogger<SqliteStoreBackend>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        // A copy: options changed after construction must not change a running backend.
        _options = new SqliteStoreOptions
        {
            Path = Path.GetFullPath(options.Path),
            Synchronous = options.Synchronous,
            BusyTimeout = options.BusyTimeout,
            MaxBatchSize = options.MaxBatchSize,
        };
        _logger = logger ?? NullLogger<SqliteStoreBackend>.Instance;
        Description = $"sqlite:{_options.Path}";
    }

    /// <inheritdoc />
    public string Description { get; }

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath => _options.Path;

    /// <summary>The owner lock file kept beside the database while the backend is open.</summary>
    public string LockFilePath => _options.Path + ".lock";

    /// <inheritdoc />
    /// <remarks>
    /// Creates the directory when missing, takes the owner lock, switches the database to WAL and applies the schema
    /// scripts it has not had. Calling it again on an open backend loads the state again.
    /// </remarks>
    public async Task<RecoveredState> OpenAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _openGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            if (_writer is null)
            {
                Open();
            }

            try
            {
                return await LoadRecoveredStateAsync(_readers!, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SqliteException or Google.Protobuf.InvalidProtocolBufferException or System.Text.Json.JsonException)
            {
                throw new StoreUnavailableException($"Cannot read the SQLite store '{_options.Path}': {ex.Message}", ex);
            }
        }
        finally
        {
            _openGate.Release();
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// The batch joins the next group-commit transaction; the task completes once that transaction is on disk. A
    /// batch that fails (a duplicate history event) fails alone; the others of its transaction commit. The token is
    /// only observed before the batch is queued: a queued batch is committed.
    /// </remarks>
    public Task CommitAsync(StoreBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            return Task.FromException(new ObjectDisposedException(nameof(SqliteStoreBackend), $"The SQLite store '{_options.Path}' is closed."));
        }

        if (Volatile.Read(ref _writer) is not { } writer)
        {
            return Task.FromException(NotOpen());
        }

        if (batch.IsEmpty)
        {
            return Task.CompletedTask;
        }

        try
        {
            return writer.Enqueue(new SqliteEncodedBatch(batch));
        }
        catch (ObjectDisposedException ex)
        {
            return Task.FromException(ex);
        }
    }

    /// <inheritdoc />
    /// <remarks>Batches already queued are committed first; the lock file is then released.</remarks>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _openGate.WaitAsync().ConfigureAwait(false);
        try
        {
            var wasOpen = _writer is not null;
            if (_writer is { } writer)
            {
                await writer.StopAsync().ConfigureAwait(false);
                writer.Dispose();
                _writer = null;
            }

            _readers?.Dispose();
            _readers = null;

            // Closing releases the lock. The file stays: deleting it could let two later openers lock two different files.
            _lockFile?.Dispose();
            _lockFile = null;
            if (wasOpen)
            {
                Log.StoreClosed(_logger, _options.Path);
            }
        }
        finally
        {
            _openGate.Release();
        }
    }

    private void Open()
    {
        var path = _options.Path;
        FileStream? lockFile = null;
        SqliteConnection? connection = null;
        SqliteWalCheckpointer? checkpointer = null;
        SqliteBatchWriter? writer = null;
        SqliteReadConnectionPool? readers = null;
        try
        {
            if (Path.GetDirectoryName(path) is { Length: > 0 } directory)
            {
                Directory.CreateDirectory(directory);
            }

            lockFile = AcquireLock();
            EnsureDatabaseOrEmpty(path);
            connection = SqliteConnections.OpenWriter(path, _options);
            WriterSynchronous = (long)SqliteConnections.ExecuteScalar(connection, "PRAGMA synchronous")!;
            var (version, applied) = SqliteSchemaMigrator.Migrate(connection, path, TimeProvider.System);
            foreach (var script in applied)
            {
                Log.SchemaApplied(_logger, path, script.ToString());
            }

            checkpointer = new SqliteWalCheckpointer(SqliteConnections.OpenCheckpointer(path, _options), path, _logger);
            writer = new SqliteBatchWriter(connection, checkpointer, path, _options.MaxBatchSize, _logger);
            (connection, checkpointer) = (null, null);
            readers = new SqliteReadConnectionPool(path, _options, ReadConnectionsKeptOpen);

            // Open one reader now, so a file readers cannot open fails here and not at the first query.
            readers.Return(readers.Rent());
            writer.Start();
            (_lockFile, _writer, _readers) = (lockFile, writer, readers);
            Log.StoreOpened(_logger, path, version.ToString(), _options.Synchronous, _options.MaxBatchSize);
        }
        catch (Exception ex)
        {
            readers?.Dispose();
            writer?.Dispose();
            checkpointer?.Dispose();
            connection?.Dispose();
            lockFile?.Dispose();
            if (ex is SqliteException or IOException or UnauthorizedAccessException or NotSupportedException or InvalidOperationException)
            {
                throw new StoreUnavailableException($"Cannot open the SQLite store '{path}': {ex.Message}", ex);
            }

            throw;
        }
    }

    /// <summary>
    /// Refuses a file that has content but no SQLite header. SQLite itself would take a file shorter than a page
    /// for an empty database and overwrite it.
    /// </summary>
    private static void EnsureDatabaseOrEmpty(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (file.Length == 0)
        {
            return;
        }

        var header = new byte[SqliteHeader.Length];

        var read = file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        if (read < header.Length || !header.AsSpan().SequenceEqual(SqliteHeader))
        {
            throw new StoreUnavailableException($"Cannot open the SQLite store '{path}': the file is not a database (it has no SQLite header).");
        }
    }

    private FileStream AcquireLock()
    {
        try
        {
            // FileShare.None is an exclusive flock on Unix: released by the kernel if the process dies.
            return new FileStream(LockFilePath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1);
        }
        catch (IOException ex) when (ex.GetType() == typeof(IOException) && LockHeldResults.Contains(ex.HResult))
        {
            throw new StoreUnavailableException(
                $"The SQLite store '{_options.Path}' is in use by another process: it holds the lock file '{LockFilePath}'.", ex);
        }
    }

    /// <summary>The <c>PRAGMA synchronous</c> value the writer connection reports (tests read it back).</summary>
    internal long WriterSynchronous { get; private set; }

    /// <summary>The writer, for tests that hold it or count its transactions; null while not open.</summary>
    internal SqliteBatchWriter? Writer => Volatile.Read(ref _writer);

    private InvalidOperationException NotOpen() => new($"The SQLite store '{_options.Path}' is not open; call OpenAsync first.");
}
