using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;
using EntityMetadata = KataWorkflows.Engine.EntityMetadata;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;

namespace KataWorkflows.Sandbox.CrashHost;

/// <summary>
/// The store as the worker sees it, with the crash host's own fault points at the activity boundaries: a kill when the
/// worker takes or hands in the N-th run of a step, and a failure reported for the N-th run of a step that in fact ran.
/// It also tells the host when entity work happened, so the host can wait for a sandbox's lock to be released.
/// </summary>
internal sealed class CrashPointStore(IOrchestrationStore inner, CrashPoint? killAt, CrashPoint? failAt, Action<string> kill) : IOrchestrationStore
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, int> _taken = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int> _handedIn = new(StringComparer.OrdinalIgnoreCase);
    private TaskCompletionSource _entityChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next entity step (lock bookkeeping or a batch); take it before reading the entity.</summary>
    public Task NextEntityChange()
    {
        lock (_sync)
        {
            return _entityChanged.Task;
        }
    }

    /// <inheritdoc />
    public async Task<ActivityWorkItem?> TryLockActivityAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        var item = await inner.TryLockActivityAsync(lease, cancellationToken);
        if (item is not null && Count(_taken, item.Request.Name) is var n && killAt is { When: CrashPointWhen.Before } k && Matches(k, item.Request.Name, n))
        {
            kill($"{k} (task {item.Request.TaskId} of {item.InstanceId})");
        }

        return item;
    }

    /// <inheritdoc />
    public Task CompleteActivityAsync(ActivityWorkItem workItem, HistoryEvent result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        ArgumentNullException.ThrowIfNull(result);
        var name = workItem.Request.Name;
        var n = Count(_handedIn, name);
        if (killAt is { When: CrashPointWhen.After } k && Matches(k, name, n))
        {
            kill($"{k} (task {workItem.Request.TaskId} of {workItem.InstanceId})");
        }

        if (failAt is { } f && Matches(f, name, n) && result.TaskCompleted is { } completed)
        {
            result = new HistoryEvent
            {
                EventId = result.EventId,
                Timestamp = result.Timestamp ?? Timestamp.FromDateTime(DateTime.UtcNow),
                TaskFailed = new TaskFailedEvent
                {
                    TaskScheduledId = completed.TaskScheduledId,
                    FailureDetails = new FailureDetails("KataWorkflows.Sandbox.CrashHost.InjectedFailure", $"injected failure at {f}").ToProto(),
                },
            };
        }

        return inner.CompleteActivityAsync(workItem, result, cancellationToken);
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

    /// <inheritdoc />
    public async Task CompleteEntityAsync(EntityWorkItem workItem, EntityBatchResult result, CancellationToken cancellationToken)
    {
        await inner.CompleteEntityAsync(workItem, result, cancellationToken);
        EntityChanged();
    }

    private static bool Matches(CrashPoint point, string name, int occurrence) =>
        occurrence == point.Occurrence && string.Equals(point.Step, name, StringComparison.OrdinalIgnoreCase);

    private int Count(Dictionary<string, int> counts, string name)
    {
        lock (_sync)
        {
            counts[name] = counts.GetValueOrDefault(name) + 1;
            return counts[name];
        }
    }

    private void EntityChanged()
    {
        TaskCompletionSource changed;
        lock (_sync)
        {
            changed = _entityChanged;
            _entityChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
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
