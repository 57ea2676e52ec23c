using Microsoft.Extensions.Logging;

namespace KataWorkflows.Storage.Sqlite;

/// <summary>Every log message of the SQLite store, with stable event ids (2000-2999).</summary>
internal static partial class Log
{
    [LoggerMessage(2001, LogLevel.Information, "SQLite store {Path} opened (schema {SchemaVersion}, synchronous {Synchronous}, group commit up to {MaxBatchSize} batches)")]
    public static partial void StoreOpened(ILogger logger, string path, string schemaVersion, SqliteSynchronousMode synchronous, int maxBatchSize);

    [LoggerMessage(2002, LogLevel.Information, "SQLite store {Path}: schema {SchemaVersion} applied")]
    public static partial void SchemaApplied(ILogger logger, string path, string schemaVersion);

    [LoggerMessage(2003, LogLevel.Error, "SQLite store {Path}: a group commit of {Batches} batches failed; every batch of it failed")]
    public static partial void CommitFailed(ILogger logger, string path, int batches, Exception exception);

    [LoggerMessage(2004, LogLevel.Warning, "SQLite store {Path}: a group commit of {Batches} batches took {ElapsedMs} ms")]
    public static partial void SlowCommit(ILogger logger, string path, int batches, long elapsedMs);

    [LoggerMessage(2005, LogLevel.Debug, "SQLite store {Path}: one batch of a group commit was rolled back alone: {Reason}")]
    public static partial void BatchRejected(ILogger logger, string path, string reason);

    [LoggerMessage(2006, LogLevel.Trace, "SQLite store {Path}: group commit of {Batches} batches in {ElapsedMs} ms")]
    public static partial void GroupCommitted(ILogger logger, string path, int batches, double elapsedMs);

    [LoggerMessage(2007, LogLevel.Information, "SQLite store {Path} closed")]
    public static partial void StoreClosed(ILogger logger, string path);

    [LoggerMessage(2008, LogLevel.Error, "SQLite store {Path}: the writer stopped on an unexpected error")]
    public static partial void WriterCrashed(ILogger logger, string path, Exception exception);

    [LoggerMessage(2009, LogLevel.Warning, "SQLite store {Path}: a WAL checkpoint failed, the next one tries again: {Reason}")]
    public static partial void CheckpointFailed(ILogger logger, string path, string reason);
}
