using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Storage;

public sealed partial class OrchestrationStore
{
    /// <inheritdoc />
    public async Task<ActivityWorkItem?> TryLockActivityAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        await EnsureStarted().ConfigureAwait(false);
        var cleanup = new StoreBatch();
        ActivityWorkItem? item = null;
        lock (_sync)
        {
            var now = Now;
            Housekeep(now);
            while (_readyActivities.TryDequeue(out var activity))
            {
                if (!IsActiveExecution(activity.Activity.Request.OrchestrationInstance))
                {
                    // Its orchestration finished (terminated, or continued as new): the task will never be awaited.
                    cleanup.DeleteActivities.Add(activity.Activity.Sequence);
                    continue;
                }

                activity.LeaseToken = ++_leaseCounter;
                activity.LeaseExpiresAt = now + lease;
                _leasedActivities[activity.Activity.Sequence] = activity;
                item = new ActivityWorkItem(activity.Activity, activity.LeaseToken);
                break;
            }

            CommitCleanup(cleanup);
        }

        return item;
    }

    /// <inheritdoc />
    public async Task CompleteActivityAsync(ActivityWorkItem workItem, HistoryEvent result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        ArgumentNullException.ThrowIfNull(result);
        await EnsureStarted().ConfigureAwait(false);
        var sequence = workItem.Activity.Sequence;
        lock (_sync)
        {
            if (!_leasedActivities.TryGetValue(sequence, out var activity) || activity.LeaseToken != workItem.LeaseToken)
            {
                throw new LeaseLostException(workItem.InstanceId);
            }

            _leasedActivities.Remove(sequence);
            var instance = workItem.Request.OrchestrationInstance;
            if (IsActiveExecution(instance))
            {
                // The result is not written on its own: the orchestration's next checkpoint records it in history
                // and deletes the activity row in the same transaction. A crash before that runs the activity again,
                // which at-least-once delivery allows; it saves one commit per activity.
                var entry = _instances[instance.InstanceId];
                var now = Now;
                AddMessage(entry, new PendingMessage(NextSequence(), result, null, Persisted: false, ActivitySequence: sequence), now);
                MakeReady(entry, now, wake: !workItem.CallerTakesNextEpisode);
                return;
            }
        }

        var batch = new StoreBatch();
        batch.DeleteActivities.Add(sequence);
        await _backend.CommitAsync(batch, CancellationToken.None).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task AbandonActivityAsync(ActivityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        await EnsureStarted().ConfigureAwait(false);
        lock (_sync)
        {
            if (_leasedActivities.TryGetValue(workItem.Activity.Sequence, out var activity) && activity.LeaseToken == workItem.LeaseToken)
            {
                _leasedActivities.Remove(workItem.Activity.Sequence);
                activity.LeaseToken = 0;
                if (delay > TimeSpan.Zero)
                {
                    _delayedActivities.Enqueue(activity, Now + delay);
                }
                else
                {
                    _readyActivities.Enqueue(activity);
                    _signals[(int)WorkItemKind.Activity].Set();
                }
            }
        }
    }
}
