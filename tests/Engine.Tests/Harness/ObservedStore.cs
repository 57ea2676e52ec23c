using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Tests.Harness;

/// <summary>
/// Passes everything to the real store and lets a test await things the worker did that leave no other trace,
/// such as handing in the result of an activity whose orchestration is gone.
/// </summary>
public sealed class ObservedStore(IOrchestrationStore inner) : IOrchestrationStore
{
    private readonly Lock _sync = new();
    private readonly List<(string InstanceId, string Name, HistoryEvent Result)> _activityResults = [];
    private readonly Dictionary<OrchestrationWorkItem, long> _lockNumbers = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _orchestrationLocks;
    private long _sleptAfterLock;

    /// <summary>Runs before an episode's checkpoint is committed; the commit waits for it.</summary>
    public Func<OrchestrationWorkItem, OrchestrationCheckpoint, Task>? BeforeOrchestrationCommit { get; set; }

    /// <summary>
    /// Waits until the orchestration dispatcher has gone to sleep (a wait for work that did not return at once)
    /// after <paramref name="workItem"/> was handed out: from then on only a wake-up signal or its timeout rouses it.
    /// </summary>
    public async Task WaitForDispatcherAsleepAsync(OrchestrationWorkItem workItem, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_sync)
            {
                if (_sleptAfterLock >= _lockNumbers[workItem])
                {
                    return;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    private void Changed()
    {
        _changed.TrySetResult();
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Waits until the worker has handed in the result of an activity of <paramref name="instanceId"/> named <paramref name="name"/>.</summary>
    public async Task<HistoryEvent> WaitForActivityResultAsync(string instanceId, string name, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_sync)
            {
                foreach (var (id, n, result) in _activityResults)
                {
                    if (id == instanceId && string.Equals(n, name, StringComparison.OrdinalIgnoreCase))
                    {
                        return result;
                    }
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task CompleteActivityAsync(ActivityWorkItem workItem, HistoryEvent result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        await inner.CompleteActivityAsync(workItem, result, cancellationToken);
        lock (_sync)
        {
            _activityResults.Add((workItem.InstanceId, workItem.Request.Name, result));
            Changed();
        }
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
    public Task WaitForWorkAsync(WorkItemKind kind, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        // The store decides how long to sleep when the wait starts, so a wait that is pending has fixed its deadline.
        var wait = inner.WaitForWorkAsync(kind, maxWait, cancellationToken);
        if (kind == WorkItemKind.Orchestration && !wait.IsCompleted)
        {
            lock (_sync)
            {
                _sleptAfterLock = _orchestrationLocks;
                Changed();
            }
        }

        return wait;
    }

    /// <inheritdoc />
    public async Task<OrchestrationWorkItem?> TryLockOrchestrationAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        var item = await inner.TryLockOrchestrationAsync(lease, cancellationToken);
        if (item is not null)
        {
            lock (_sync)
            {
                _lockNumbers[item] = ++_orchestrationLocks;
            }
        }

        return item;
    }

    /// <inheritdoc />
    public async Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        if (BeforeOrchestrationCommit is { } hook)
        {
            await hook(workItem, checkpoint);
        }

        await inner.CompleteOrchestrationAsync(workItem, checkpoint, cancellationToken);
    }

    /// <inheritdoc />
    public Task AbandonOrchestrationAsync(OrchestrationWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken) =>
        inner.AbandonOrchestrationAsync(workItem, delay, cancellationToken);

    /// <inheritdoc />
    public Task<ActivityWorkItem?> TryLockActivityAsync(TimeSpan lease, CancellationToken cancellationToken) => inner.TryLockActivityAsync(lease, cancellationToken);

    /// <inheritdoc />
    public Task AbandonActivityAsync(ActivityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken) =>
        inner.AbandonActivityAsync(workItem, delay, cancellationToken);

    /// <inheritdoc />
    public Task<EntityWorkItem?> TryLockEntityAsync(TimeSpan lease, CancellationToken cancellationToken) => inner.TryLockEntityAsync(lease, cancellationToken);

    /// <inheritdoc />
    public Task CompleteEntityAsync(EntityWorkItem workItem, EntityBatchResult result, CancellationToken cancellationToken) =>
        inner.CompleteEntityAsync(workItem, result, cancellationToken);

    /// <inheritdoc />
    public Task AbandonEntityAsync(EntityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken) =>
        inner.AbandonEntityAsync(workItem, delay, cancellationToken);

    /// <inheritdoc />
    public bool RenewLease(object workItem, TimeSpan lease) => inner.RenewLease(workItem, lease);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
