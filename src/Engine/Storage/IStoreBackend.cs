using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Storage;

/// <summary>
/// The durable side of an <see cref="OrchestrationStore"/>: it applies batches atomically and answers reads.
/// The store keeps scheduling state (inboxes, leases, ready queues) in memory and writes every change through
/// its backend before acting on it, so a restart rebuilds the same state from <see cref="OpenAsync"/>.
/// A backend is owned by one store at a time.
/// </summary>
public interface IStoreBackend : IAsyncDisposable
{
    /// <summary>Where the data lives, for messages and logs (a file path, a server).</summary>
    string Description { get; }

    /// <summary>Opens the backend (creating or upgrading its schema) and loads what is in motion.</summary>
    /// <exception cref="StoreUnavailableException">The backend cannot be opened; the message names where.</exception>
    Task<RecoveredState> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Applies a batch in one transaction. Batches submitted together may share a transaction.</summary>
    Task CommitAsync(StoreBatch batch, CancellationToken cancellationToken);

    /// <summary>Reads one instance; null when it does not exist.</summary>
    Task<OrchestrationMetadata?> ReadInstanceAsync(string instanceId, bool includePayloads, CancellationToken cancellationToken);

    /// <summary>Reads the history of an execution (the current one when <paramref name="executionId"/> is null), in order.</summary>
    Task<IReadOnlyList<HistoryEvent>> ReadHistoryAsync(string instanceId, string? executionId, CancellationToken cancellationToken);

    /// <summary>Lists instances page by page.</summary>
    Task<InstancePage> QueryInstancesAsync(OrchestrationQuery query, CancellationToken cancellationToken);

    /// <summary>Finds up to <paramref name="limit"/> terminal instances matching a purge filter.</summary>
    Task<IReadOnlyList<string>> FindPurgeableAsync(PurgeFilter filter, int limit, CancellationToken cancellationToken);
}
