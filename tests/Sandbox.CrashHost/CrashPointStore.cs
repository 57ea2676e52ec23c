using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using KataWorkflows.TestSupport;
using Microsoft.DurableTask.Protobuf;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;

namespace KataWorkflows.Sandbox.CrashHost;

/// <summary>
/// The store as the worker sees it, with the crash host's own fault points at the activity boundaries: a kill when the
/// worker takes or hands in the N-th run of a step, and a failure reported for the N-th run of a step that in fact ran.
/// It also tells the host when entity work happened, so the host can wait for a sandbox's lock to be released.
/// </summary>
internal sealed class CrashPointStore(IOrchestrationStore inner, CrashPoint? killAt, CrashPoint? failAt, Action<string> kill)
    : DelegatingOrchestrationStore(inner)
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, int> _taken = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int> _handedIn = new(StringComparer.OrdinalIgnoreCase);
    private readonly ChangeSignal _entityChanged = new();

    /// <summary>Completes at the next entity step (lock bookkeeping or a batch); take it before reading the entity.</summary>
    public Task NextEntityChange() => _entityChanged.Next();

    /// <inheritdoc />
    public override async Task<ActivityWorkItem?> TryLockActivityAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        var item = await Inner.TryLockActivityAsync(lease, cancellationToken);
        if (item is not null && Count(_taken, item.Request.Name) is var n && killAt is { When: CrashPointWhen.Before } k && Matches(k, item.Request.Name, n))
        {
            kill($"{k} (task {item.Request.TaskId} of {item.InstanceId})");
        }

        return item;
    }

    /// <inheritdoc />
    public override Task CompleteActivityAsync(ActivityWorkItem workItem, HistoryEvent result, CancellationToken cancellationToken)
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

        return Inner.CompleteActivityAsync(workItem, result, cancellationToken);
    }

    /// <inheritdoc />
    public override async Task<EntityWorkItem?> TryLockEntityAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        try
        {
            return await Inner.TryLockEntityAsync(lease, cancellationToken);
        }
        finally
        {
            _entityChanged.Set();
        }
    }

    /// <inheritdoc />
    public override async Task CompleteEntityAsync(EntityWorkItem workItem, EntityBatchResult result, CancellationToken cancellationToken)
    {
        await Inner.CompleteEntityAsync(workItem, result, cancellationToken);
        _entityChanged.Set();
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
}
