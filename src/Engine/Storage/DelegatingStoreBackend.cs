using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Storage;

/// <summary>
/// A backend that passes every member to an inner backend. Derive from it to observe or alter a few calls (counting
/// commits, injecting faults) and inherit plain forwarding for the rest.
/// </summary>
public abstract class DelegatingStoreBackend : IStoreBackend
{
    /// <summary>Creates a backend that forwards to <paramref name="inner"/>.</summary>
    protected DelegatingStoreBackend(IStoreBackend inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Inner = inner;
    }

    /// <summary>The backend every call is passed to.</summary>
    protected IStoreBackend Inner { get; }

    /// <inheritdoc />
    public virtual string Description => Inner.Description;

    /// <inheritdoc />
    public virtual Task<RecoveredState> OpenAsync(CancellationToken cancellationToken) => Inner.OpenAsync(cancellationToken);

    /// <inheritdoc />
    public virtual Task CommitAsync(StoreBatch batch, CancellationToken cancellationToken) => Inner.CommitAsync(batch, cancellationToken);

    /// <inheritdoc />
    public virtual Task<OrchestrationMetadata?> ReadInstanceAsync(string instanceId, bool includePayloads, CancellationToken cancellationToken) =>
        Inner.ReadInstanceAsync(instanceId, includePayloads, cancellationToken);

    /// <inheritdoc />
    public virtual Task<IReadOnlyList<HistoryEvent>> ReadHistoryAsync(string instanceId, string? executionId, CancellationToken cancellationToken) =>
        Inner.ReadHistoryAsync(instanceId, executionId, cancellationToken);

    /// <inheritdoc />
    public virtual Task<InstancePage> QueryInstancesAsync(OrchestrationQuery query, CancellationToken cancellationToken) =>
        Inner.QueryInstancesAsync(query, cancellationToken);

    /// <inheritdoc />
    public virtual Task<IReadOnlyList<string>> FindPurgeableAsync(PurgeFilter filter, int limit, CancellationToken cancellationToken) =>
        Inner.FindPurgeableAsync(filter, limit, cancellationToken);

    /// <inheritdoc />
    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return Inner.DisposeAsync();
    }
}
