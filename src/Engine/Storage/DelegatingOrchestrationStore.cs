using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Storage;

/// <summary>
/// A store that passes every member to an inner store. Derive from it to observe or alter a few calls (a test
/// harness, a fault injector) and inherit plain forwarding for the rest.
/// </summary>
public abstract class DelegatingOrchestrationStore : IOrchestrationStore
{
    /// <summary>Creates a store that forwards to <paramref name="inner"/>.</summary>
    protected DelegatingOrchestrationStore(IOrchestrationStore inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Inner = inner;
    }

    /// <summary>The store every call is passed to.</summary>
    protected IOrchestrationStore Inner { get; }

    /// <inheritdoc />
    public virtual string Description => Inner.Description;

    /// <inheritdoc />
    public virtual Task StartAsync(CancellationToken cancellationToken) => Inner.StartAsync(cancellationToken);

    /// <inheritdoc />
    public virtual Task CreateInstanceAsync(NewInstance instance, CancellationToken cancellationToken) =>
        Inner.CreateInstanceAsync(instance, cancellationToken);

    /// <inheritdoc />
    public virtual Task<bool> SendMessageAsync(string instanceId, HistoryEvent message, CancellationToken cancellationToken) =>
        Inner.SendMessageAsync(instanceId, message, cancellationToken);

    /// <inheritdoc />
    public virtual Task<OrchestrationMetadata?> GetInstanceAsync(string instanceId, bool includePayloads, CancellationToken cancellationToken) =>
        Inner.GetInstanceAsync(instanceId, includePayloads, cancellationToken);

    /// <inheritdoc />
    public virtual Task<InstancePage> QueryInstancesAsync(OrchestrationQuery query, CancellationToken cancellationToken) =>
        Inner.QueryInstancesAsync(query, cancellationToken);

    /// <inheritdoc />
    public virtual Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, string? executionId, CancellationToken cancellationToken) =>
        Inner.GetHistoryAsync(instanceId, executionId, cancellationToken);

    /// <inheritdoc />
    public virtual Task<int> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken) =>
        Inner.PurgeInstanceAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public virtual Task<int> PurgeInstancesAsync(PurgeFilter filter, CancellationToken cancellationToken) =>
        Inner.PurgeInstancesAsync(filter, cancellationToken);

    /// <inheritdoc />
    public virtual Task WaitForInstanceChangeAsync(string instanceId, CancellationToken cancellationToken) =>
        Inner.WaitForInstanceChangeAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public virtual Task<OrchestrationMetadata> WaitForStatusChangeAsync(string instanceId, CancellationToken cancellationToken) =>
        Inner.WaitForStatusChangeAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public virtual Task SignalEntityAsync(EntityInstanceId entity, string operation, string? input, DateTime? scheduledTime, CancellationToken cancellationToken) =>
        Inner.SignalEntityAsync(entity, operation, input, scheduledTime, cancellationToken);

    /// <inheritdoc />
    public virtual Task<EntityMetadata?> GetEntityAsync(EntityInstanceId entity, bool includeState, CancellationToken cancellationToken) =>
        Inner.GetEntityAsync(entity, includeState, cancellationToken);

    /// <inheritdoc />
    public virtual Task<EntityPage> QueryEntitiesAsync(EntityListQuery query, CancellationToken cancellationToken) =>
        Inner.QueryEntitiesAsync(query, cancellationToken);

    /// <inheritdoc />
    public virtual Task<CleanEntityStorageResult> CleanEntityStorageAsync(bool removeEmptyEntities, bool releaseOrphanedLocks, CancellationToken cancellationToken) =>
        Inner.CleanEntityStorageAsync(removeEmptyEntities, releaseOrphanedLocks, cancellationToken);

    /// <inheritdoc />
    public virtual Task WaitForWorkAsync(WorkItemKind kind, TimeSpan maxWait, CancellationToken cancellationToken) =>
        Inner.WaitForWorkAsync(kind, maxWait, cancellationToken);

    /// <inheritdoc />
    public virtual Task<OrchestrationWorkItem?> TryLockOrchestrationAsync(TimeSpan lease, CancellationToken cancellationToken) =>
        Inner.TryLockOrchestrationAsync(lease, cancellationToken);

    /// <inheritdoc />
    public virtual Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationCheckpoint checkpoint, CancellationToken cancellationToken) =>
        Inner.CompleteOrchestrationAsync(workItem, checkpoint, cancellationToken);

    /// <inheritdoc />
    public virtual Task AbandonOrchestrationAsync(OrchestrationWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken) =>
        Inner.AbandonOrchestrationAsync(workItem, delay, cancellationToken);

    /// <inheritdoc />
    public virtual Task<ActivityWorkItem?> TryLockActivityAsync(TimeSpan lease, CancellationToken cancellationToken) =>
        Inner.TryLockActivityAsync(lease, cancellationToken);

    /// <inheritdoc />
    public virtual Task CompleteActivityAsync(ActivityWorkItem workItem, HistoryEvent result, CancellationToken cancellationToken) =>
        Inner.CompleteActivityAsync(workItem, result, cancellationToken);

    /// <inheritdoc />
    public virtual Task AbandonActivityAsync(ActivityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken) =>
        Inner.AbandonActivityAsync(workItem, delay, cancellationToken);

    /// <inheritdoc />
    public virtual Task<EntityWorkItem?> TryLockEntityForCallAsync(string entityInstanceId, HistoryEvent call, TimeSpan lease, CancellationToken cancellationToken) =>
        Inner.TryLockEntityForCallAsync(entityInstanceId, call, lease, cancellationToken);

    /// <inheritdoc />
    public virtual Task<IReadOnlyList<EntityWorkItem>?> TryLockEntitiesForSectionAsync(HistoryEvent lockRequest, TimeSpan lease, CancellationToken cancellationToken) =>
        Inner.TryLockEntitiesForSectionAsync(lockRequest, lease, cancellationToken);

    /// <inheritdoc />
    public virtual Task<EntityWorkItem?> TryLockEntityAsync(TimeSpan lease, CancellationToken cancellationToken) =>
        Inner.TryLockEntityAsync(lease, cancellationToken);

    /// <inheritdoc />
    public virtual Task CompleteEntityAsync(EntityWorkItem workItem, EntityBatchResult result, CancellationToken cancellationToken) =>
        Inner.CompleteEntityAsync(workItem, result, cancellationToken);

    /// <inheritdoc />
    public virtual Task AbandonEntityAsync(EntityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken) =>
        Inner.AbandonEntityAsync(workItem, delay, cancellationToken);

    /// <inheritdoc />
    public virtual bool RenewLease(object workItem, TimeSpan lease) => Inner.RenewLease(workItem, lease);

    /// <inheritdoc />
    /// <remarks>Disposes the inner store (the wrapper owns it) through <see cref="DisposeAsyncCore"/>.</remarks>
    public async ValueTask DisposeAsync()
    {
        await DisposeAsyncCore().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what the store holds; the default disposes the inner store.</summary>
    protected virtual ValueTask DisposeAsyncCore() => Inner.DisposeAsync();
}
