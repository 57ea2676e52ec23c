using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Tests.Harness;

/// <summary>
/// Passes everything to the real store and lets a test await things the worker did that leave no other trace,
/// such as handing in the result of an activity whose orchestration is gone.
/// </summary>
public sealed class ObservedStore(IOrchestrationStore inner) : DelegatingOrchestrationStore(inner)
{
    private readonly Lock _sync = new();
    private readonly List<(string InstanceId, string Name, HistoryEvent Result)> _activityResults = [];
    private readonly Dictionary<OrchestrationWorkItem, long> _lockNumbers = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<string, int> _entityBatches = [];
    private readonly Dictionary<string, int> _inlineCalls = [];
    private readonly Dictionary<string, int> _sectionLocks = [];
    private long _orchestrationLocks;
    private Task? _orchestrationDispatcherSleep;
    private long _sleptAfterLock;

    /// <summary>Runs when an activity was locked, before the worker gets it; the worker waits for it.</summary>
    public Func<ActivityWorkItem, Task>? AfterActivityLocked { get; set; }

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

    /// <summary>Waits until the orchestration dispatcher sleeps waiting for work (it takes new work at once then).</summary>
    public async Task WaitForOrchestrationDispatcherAsleepAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_sync)
            {
                if (_orchestrationDispatcherSleep is { IsCompleted: false })
                {
                    return;
                }

                changed = _changed.Task;
            }

            // A sleep starts only in WaitForWorkAsync, which signals the change.
            await changed.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Entity operations handed to the entity dispatcher (through the entity's inbox), by entity id.</summary>
    public int InboxOperationsOf(string entityId) => CountOf(_entityBatches, entityId);

    /// <summary>Leases the worker got to run entity calls inside the calling episodes, by entity id.</summary>
    public int InlineLeasesOf(string entityId) => CountOf(_inlineCalls, entityId);

    /// <summary>Locks the worker granted inside the requesting episodes (before the request was sent), by entity id.</summary>
    public int SectionLocksOf(string entityId) => CountOf(_sectionLocks, entityId);

    private int CountOf(Dictionary<string, int> counts, string entityId)
    {
        lock (_sync)
        {
            return counts.GetValueOrDefault(entityId);
        }
    }

    private void Count(Dictionary<string, int> counts, string entityId, int by)
    {
        lock (_sync)
        {
            counts[entityId] = counts.GetValueOrDefault(entityId) + by;
        }
    }

    /// <inheritdoc />
    public override async Task<IReadOnlyList<EntityWorkItem>?> TryLockEntitiesForSectionAsync(HistoryEvent lockRequest, TimeSpan lease, CancellationToken cancellationToken)
    {
        var items = await Inner.TryLockEntitiesForSectionAsync(lockRequest, lease, cancellationToken);
        foreach (var item in items ?? [])
        {
            Count(_sectionLocks, item.InstanceId, 1);
        }

        return items;
    }

    /// <inheritdoc />
    public override async Task<EntityWorkItem?> TryLockEntityAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        var item = await Inner.TryLockEntityAsync(lease, cancellationToken);
        if (item is not null)
        {
            Count(_entityBatches, item.InstanceId, item.Operations.Count);
        }

        return item;
    }

    /// <inheritdoc />
    public override async Task<EntityWorkItem?> TryLockEntityForCallAsync(string entityInstanceId, HistoryEvent call, TimeSpan lease, CancellationToken cancellationToken)
    {
        var item = await Inner.TryLockEntityForCallAsync(entityInstanceId, call, lease, cancellationToken);
        if (item is not null)
        {
            Count(_inlineCalls, entityInstanceId, 1);
        }

        return item;
    }

    /// <inheritdoc />
    public override async Task CompleteActivityAsync(ActivityWorkItem workItem, HistoryEvent result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        await Inner.CompleteActivityAsync(workItem, result, cancellationToken);
        lock (_sync)
        {
            _activityResults.Add((workItem.InstanceId, workItem.Request.Name, result));
            Changed();
        }
    }

    /// <inheritdoc />
    public override Task WaitForWorkAsync(WorkItemKind kind, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        // The store decides how long to sleep when the wait starts, so a wait that is pending has fixed its deadline.
        var wait = Inner.WaitForWorkAsync(kind, maxWait, cancellationToken);
        if (kind == WorkItemKind.Orchestration && !wait.IsCompleted)
        {
            lock (_sync)
            {
                _orchestrationDispatcherSleep = wait;
                _sleptAfterLock = _orchestrationLocks;
                Changed();
            }
        }

        return wait;
    }

    /// <inheritdoc />
    public override async Task<OrchestrationWorkItem?> TryLockOrchestrationAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        var item = await Inner.TryLockOrchestrationAsync(lease, cancellationToken);
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
    public override async Task<ActivityWorkItem?> TryLockActivityAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        var item = await Inner.TryLockActivityAsync(lease, cancellationToken);
        if (item is not null && AfterActivityLocked is { } hook)
        {
            await hook(item);
        }

        return item;
    }

    /// <inheritdoc />
    public override async Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        if (BeforeOrchestrationCommit is { } hook)
        {
            await hook(workItem, checkpoint);
        }

        await Inner.CompleteOrchestrationAsync(workItem, checkpoint, cancellationToken);
    }
}
