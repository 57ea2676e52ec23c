using System.Threading.Channels;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;
using EntityMetadata = KataWorkflows.Engine.EntityMetadata;

namespace KataWorkflows.Orchestrations.Tests.Harness;

/// <summary>One activity the worker took (<see cref="Started"/>) or handed the result of (not started).</summary>
/// <param name="InstanceId">The run that scheduled it.</param>
/// <param name="Name">The activity.</param>
/// <param name="Started">True when the worker took it; false when it handed in its result.</param>
public sealed record ActivityEvent(string InstanceId, string Name, bool Started);

/// <summary>
/// Passes everything to the real store and logs, in the order the worker did them, every activity it took and every
/// result it handed in: the sequence the serialization assertions read, and what a test awaits to know a step began.
/// </summary>
public sealed class ActivityLogStore(IOrchestrationStore inner) : IOrchestrationStore
{
    private readonly Lock _sync = new();
    private readonly List<ActivityEvent> _events = [];
    private readonly Channel<ActivityEvent> _started = Channel.CreateUnbounded<ActivityEvent>();
    private TaskCompletionSource _entityCommitted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Every activity event so far, in order.</summary>
    public IReadOnlyList<ActivityEvent> Events
    {
        get
        {
            lock (_sync)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>Waits until the worker takes an activity named <paramref name="name"/> (taken before the call count too).</summary>
    public async Task<ActivityEvent> WaitForStartAsync(string name, CancellationToken cancellationToken)
    {
        while (true)
        {
            var next = await _started.Reader.ReadAsync(cancellationToken);
            if (string.Equals(next.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return next;
            }
        }
    }

    /// <summary>
    /// A task that completes when the worker next commits an entity batch or takes entity work (the store applies lock
    /// requests and releases while the worker asks for entity work, and signals no change for entities). Take it before
    /// reading the entity, so a change in between is not missed.
    /// </summary>
    public Task NextEntityCommit()
    {
        lock (_sync)
        {
            return _entityCommitted.Task;
        }
    }

    /// <inheritdoc />
    public async Task CompleteEntityAsync(EntityWorkItem workItem, EntityBatchResult result, CancellationToken cancellationToken)
    {
        await inner.CompleteEntityAsync(workItem, result, cancellationToken);
        EntityChanged();
    }

    /// <inheritdoc />
    public async Task<EntityWorkItem?> TryLockEntityAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        try
        {
            return await inner.TryLockEntityAsync(lease, cancellationToken);
        }
        finally
        {
            EntityChanged();
        }
    }

    private void EntityChanged()
    {
        TaskCompletionSource committed;
        lock (_sync)
        {
            committed = _entityCommitted;
            _entityCommitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        committed.TrySetResult();
    }

    /// <inheritdoc />
    public async Task<ActivityWorkItem?> TryLockActivityAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        var item = await inner.TryLockActivityAsync(lease, cancellationToken);
        if (item is not null)
        {
            var started = new ActivityEvent(item.InstanceId, item.Request.Name, Started: true);
            lock (_sync)
            {
                _events.Add(started);
            }

            _started.Writer.TryWrite(started);
        }

        return item;
    }

    /// <inheritdoc />
    public async Task CompleteActivityAsync(ActivityWorkItem workItem, HistoryEvent result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        lock (_sync)
        {
            _events.Add(new ActivityEvent(workItem.InstanceId, workItem.Request.Name, Started: false));
        }

        await inner.CompleteActivityAsync(workItem, result, cancellationToken);
    }

    /// <inheritdoc />
    public string Description => inner.Description;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => inner.StartAsync(cancellationToken);

    /// <inheritdoc />
    public Task CreateInstanceAsync(NewInstance instance, CancellationToken cancellationToken) => inner.CreateInstanceAsync(instance, cancellationToken);

    /// <inheritdoc />
    public Task<bool> SendMessageAsync(string instanceId, HistoryEvent message, CancellationToken cancellationToken) =>
        inner.SendMessageAsync(instanceId, message, cancellationToken);

    /// <inheritdoc />
    public Task<OrchestrationMetadata?> GetInstanceAsync(string instanceId, bool includePayloads, CancellationToken cancellationToken) =>
        inner.GetInstanceAsync(instanceId, includePayloads, cancellationToken);

    /// <inheritdoc />
    public Task<InstancePage> QueryInstancesAsync(OrchestrationQuery query, CancellationToken cancellationToken) => inner.QueryInstancesAsync(query, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, string? executionId, CancellationToken cancellationToken) =>
        inner.GetHistoryAsync(instanceId, executionId, cancellationToken);

    /// <inheritdoc />
    public Task<int> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken) => inner.PurgeInstanceAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public Task<int> PurgeInstancesAsync(PurgeFilter filter, CancellationToken cancellationToken) => inner.PurgeInstancesAsync(filter, cancellationToken);

    /// <inheritdoc />
    public Task WaitForInstanceChangeAsync(string instanceId, CancellationToken cancellationToken) => inner.WaitForInstanceChangeAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public Task SignalEntityAsync(EntityInstanceId entity, string operation, string? input, DateTime? scheduledTime, CancellationToken cancellationToken) =>
        inner.SignalEntityAsync(entity, operation, input, scheduledTime, cancellationToken);

    /// <inheritdoc />
    public Task<EntityMetadata?> GetEntityAsync(EntityInstanceId entity, bool includeState, CancellationToken cancellationToken) =>
        inner.GetEntityAsync(entity, includeState, cancellationToken);

    /// <inheritdoc />
    public Task<EntityPage> QueryEntitiesAsync(EntityListQuery query, CancellationToken cancellationToken) => inner.QueryEntitiesAsync(query, cancellationToken);

    /// <inheritdoc />
    public Task<CleanEntityStorageResult> CleanEntityStorageAsync(bool removeEmptyEntities, bool releaseOrphanedLocks, CancellationToken cancellationToken) =>
        inner.CleanEntityStorageAsync(removeEmptyEntities, releaseOrphanedLocks, cancellationToken);

    /// <inheritdoc />
    public Task WaitForWorkAsync(WorkItemKind kind, TimeSpan maxWait, CancellationToken cancellationToken) => inner.WaitForWorkAsync(kind, maxWait, cancellationToken);

    /// <inheritdoc />
    public Task<OrchestrationWorkItem?> TryLockOrchestrationAsync(TimeSpan lease, CancellationToken cancellationToken) =>
        inner.TryLockOrchestrationAsync(lease, cancellationToken);

    /// <inheritdoc />
    public Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationCheckpoint checkpoint, CancellationToken cancellationToken) =>
        inner.CompleteOrchestrationAsync(workItem, checkpoint, cancellationToken);

    /// <inheritdoc />
    public Task AbandonOrchestrationAsync(OrchestrationWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken) =>
        inner.AbandonOrchestrationAsync(workItem, delay, cancellationToken);

    /// <inheritdoc />
    public Task AbandonActivityAsync(ActivityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken) =>
        inner.AbandonActivityAsync(workItem, delay, cancellationToken);

    /// <inheritdoc />
    public Task AbandonEntityAsync(EntityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken) =>
        inner.AbandonEntityAsync(workItem, delay, cancellationToken);

    /// <inheritdoc />
    public bool RenewLease(object workItem, TimeSpan lease) => inner.RenewLease(workItem, lease);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
