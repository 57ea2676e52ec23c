using Microsoft.DurableTask.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace KataWorkflows.Engine.Storage;

public sealed partial class OrchestrationStore
{
    /// <inheritdoc />
    public async Task<OrchestrationWorkItem?> TryLockOrchestrationAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        await EnsureStarted().ConfigureAwait(false);
        InstanceEntry? entry = null;
        long token = 0;
        var messages = new List<PendingMessage>();
        List<HistoryEvent>? history = null;
        OrchestrationMetadata? metadata = null;
        lock (_sync)
        {
            var now = Now;
            Housekeep(now);
            while (_readyOrchestrations.TryDequeue(out var candidate))
            {
                candidate.Queued = false;
                if (candidate.Removed || candidate.LeaseToken != 0 || candidate.IsReserved || !CollectDeliverable(candidate, now, messages))
                {
                    messages.Clear();
                    continue;
                }

                entry = candidate;
                token = TakeLease(entry, lease, now);
                history = entry.History;
                metadata = entry.Metadata!;
                break;
            }
        }

        if (entry is null)
        {
            return null;
        }

        if (history is null)
        {
            try
            {
                history = [.. await _backend.ReadHistoryAsync(entry.InstanceId, metadata!.ExecutionId, cancellationToken).ConfigureAwait(false)];
            }
            catch
            {
                lock (_sync)
                {
                    if (entry.LeaseToken == token)
                    {
                        ReleaseLease(entry);
                        MakeReady(entry, Now);
                    }
                }

                throw;
            }

            lock (_sync)
            {
                if (entry.LeaseToken == token)
                {
                    entry.History ??= history;
                }
            }
        }

        return new OrchestrationWorkItem(
            metadata!, history, messages.ConvertAll(m => m.Event), token, messages.ConvertAll(m => m.Sequence).ToArray());
    }

    /// <inheritdoc />
    public async Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        ArgumentNullException.ThrowIfNull(checkpoint);
        await EnsureStarted().ConfigureAwait(false);
        var batch = new StoreBatch();
        var metadata = checkpoint.Metadata;
        var id = workItem.InstanceId;
        InstanceEntry entry;
        List<PendingMessage> consumed;
        var selfMessages = new List<StoredMessage>();
        var activities = new List<StoredActivity>();
        var deliveries = new List<(InstanceEntry Target, StoredMessage Message)>();
        var children = new List<(InstanceEntry Child, StoredMessage Start)>();
        var entitySteps = new List<InlineEntityStep>();
        lock (_sync)
        {
            var now = Now;
            entry = GetLeasedEntry(id, workItem.LeaseToken);
            if (entry.UnwrittenStart is { } start)
            {
                // The client's start rides on this checkpoint: a terminal instance it replaces goes first.
                batch.DeleteInstances.AddRange(start.Replaces);
            }

            var sequences = new HashSet<long>(workItem.MessageSequences);
            consumed = entry.Inbox.FindAll(m => sequences.Contains(m.Sequence));
            foreach (var m in consumed)
            {
                AddConsumption(batch, m);
            }

            if (checkpoint.StartsNewExecution)
            {
                batch.TruncateHistory.Add((id, metadata.ExecutionId));

                // Timers and activity results still waiting belong to the execution that ended: delivered to the
                // new one, they would complete its tasks of the same ids.
                foreach (var m in entry.Inbox.FindAll(m => !sequences.Contains(m.Sequence) && (m.ActivitySequence != 0 || m.Event.TimerFired is not null)))
                {
                    consumed.Add(m);
                    AddConsumption(batch, m);
                }
            }

            if (checkpoint.NewHistory.Count > 0)
            {
                var first = checkpoint.StartsNewExecution ? 0 : entry.History?.Count ?? workItem.PastEvents.Count;
                batch.AppendHistory.Add(new HistoryAppend(id, metadata.ExecutionId, first, checkpoint.NewHistory));
            }

            batch.UpsertInstances.Add(metadata);
            if (entry.UnwrittenStart is null && !checkpoint.StartsNewExecution)
            {
                batch.ProgressOnly[id] = metadata.Status != entry.Metadata!.Status;
            }

            StageInlineEntityCalls(checkpoint, now, batch, entitySteps);
            if (!metadata.IsTerminal)
            {
                foreach (var m in checkpoint.SelfMessages)
                {
                    selfMessages.Add(new StoredMessage(NextSequence(), id, m.VisibleAt, m.Event));
                }

                foreach (var request in checkpoint.Activities)
                {
                    activities.Add(new StoredActivity(NextSequence(), request));
                }
            }

            foreach (var child in checkpoint.NewChildren)
            {
                var childId = child.Metadata.InstanceId;
                if (_instances.ContainsKey(childId))
                {
                    // The id is taken by a running instance: the parent's sub-orchestration task fails instead.
                    var failed = new HistoryEvent
                    {
                        EventId = -1,
                        Timestamp = Timestamp.FromDateTime(Now),
                        SubOrchestrationInstanceFailed = new SubOrchestrationInstanceFailedEvent
                        {
                            TaskScheduledId = child.ExecutionStarted.ExecutionStarted.ParentInstance.TaskScheduledId,
                            FailureDetails = new FailureDetails(
                                typeof(InstanceAlreadyExistsException).FullName!,
                                $"Sub-orchestration instance '{childId}' already exists and is not terminal.").ToProto(),
                        },
                    };
                    if (!metadata.IsTerminal)
                    {
                        selfMessages.Add(new StoredMessage(NextSequence(), id, null, failed));
                    }

                    continue;
                }

                children.Add(ReserveNewInstance(child.Metadata, child.ExecutionStarted, batch));
            }

            foreach (var outbound in checkpoint.OutboundMessages)
            {
                var target = ResolveTarget(outbound.TargetInstanceId);
                if (target is null)
                {
                    Log.MessageDropped(_logger, outbound.TargetInstanceId, outbound.Event.EventTypeCase.ToString());
                    continue;
                }

                if (TryApplyLockMessageInline(target, outbound, metadata, now, batch, deliveries, entitySteps))
                {
                    continue;
                }

                var message = new StoredMessage(NextSequence(), outbound.TargetInstanceId, outbound.VisibleAt, outbound.Event);
                deliveries.Add((target, message));
                batch.InsertMessages.Add(message);
            }

            batch.InsertMessages.AddRange(selfMessages);
            batch.InsertActivities.AddRange(activities);
            entry.Committing = true;
        }

        try
        {
            await _backend.CommitAsync(batch, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            lock (_sync)
            {
                foreach (var (child, _) in children)
                {
                    DropUnwritten(child);
                }

                foreach (var (target, _) in deliveries)
                {
                    if (target.IsEntity && target.Entity!.IsEmpty && target.Inbox.Count == 0 && target.LeaseToken == 0
                        && _instances.TryGetValue(target.InstanceId, out var current) && ReferenceEquals(current, target))
                    {
                        // Flagged, so a signal that resolved this entry meanwhile delivers to a fresh one instead.
                        _instances.Remove(target.InstanceId);
                        target.Removed = true;
                    }
                }

                AbandonInlineEntitySteps(entitySteps);
                entry.Committing = false;
                if (entry.LeaseToken == workItem.LeaseToken)
                {
                    ReleaseLease(entry);
                    if (entry.UnwrittenStart is { } start)
                    {
                        // The start was never written: the instance goes, and the client's call fails with the error.
                        DropUnwritten(entry);
                        start.Written.TrySetException(ex);
                    }
                    else
                    {
                        MakeReady(entry, Now);
                    }
                }
            }

            throw;
        }

        lock (_sync)
        {
            var now = Now;
            FinishInlineEntitySteps(entitySteps, now);
            var consumedSet = consumed.ToHashSet();
            entry.Inbox.RemoveAll(consumedSet.Contains);
            entry.History = checkpoint.StartsNewExecution
                ? [.. checkpoint.NewHistory]
                : [.. entry.History ?? [.. workItem.PastEvents], .. checkpoint.NewHistory];
            var statusChanged = entry.Metadata!.Status != metadata.Status;
            entry.Metadata = metadata;
            ReleaseLease(entry);
            if (entry.UnwrittenStart is { } written)
            {
                var creating = entry.Creating!;
                entry.Creating = null;
                entry.UnwrittenStart = null;
                creating.TrySetResult();
                written.Written.TrySetResult();
            }

            foreach (var m in selfMessages)
            {
                AddMessage(entry, new PendingMessage(m.Sequence, m.Event, m.VisibleAt, Persisted: true, ActivitySequence: 0), now);
            }

            foreach (var activity in activities)
            {
                _readyActivities.Enqueue(new ActivityEntry(activity));
            }

            if (activities.Count > 0 && !checkpoint.CallerTakesActivity)
            {
                _signals[(int)WorkItemKind.Activity].Set();
            }

            foreach (var (child, start) in children)
            {
                ActivateNewInstance(child, start, now);
            }

            foreach (var (target, message) in deliveries)
            {
                Deliver(target, message, now);
            }

            if (metadata.IsTerminal)
            {
                RemoveFinished(entry);
            }
            else
            {
                MakeReady(entry, now);
            }

            NotifyChanged(id, statusChangedTo: statusChanged ? metadata : null);
        }
    }

    /// <inheritdoc />
    public async Task AbandonOrchestrationAsync(OrchestrationWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        await EnsureStarted().ConfigureAwait(false);
        lock (_sync)
        {
            if (_instances.TryGetValue(workItem.InstanceId, out var entry) && entry.LeaseToken == workItem.LeaseToken)
            {
                ReleaseLease(entry);
                var now = Now;
                if (delay > TimeSpan.Zero)
                {
                    entry.RetryAt = now + delay;
                    _timers.Enqueue(entry, now + delay);
                }

                MakeReady(entry, now);
            }
        }
    }

    /// <summary>Records in a batch that a consumed message is gone: its inbox row, or for an activity result its activity row.</summary>
    private static void AddConsumption(StoreBatch batch, PendingMessage message)
    {
        if (message.Persisted)
        {
            batch.DeleteMessages.Add(message.Sequence);
        }

        if (message.ActivitySequence != 0)
        {
            batch.DeleteActivities.Add(message.ActivitySequence);
        }
    }

    /// <summary>Finds the receiver of a message: an instance that still runs, or an entity (created on first message).</summary>
    private InstanceEntry? ResolveTarget(string instanceId)
    {
        if (_instances.TryGetValue(instanceId, out var target) && !target.Removed)
        {
            return target;
        }

        if (!EntityInstanceId.IsEntityInstanceId(instanceId))
        {
            return null;
        }

        target = NewEntityEntry(instanceId, Now);
        _instances[instanceId] = target;
        return target;
    }

    private void Deliver(InstanceEntry target, StoredMessage message, DateTime now)
    {
        if (target.Removed && target.IsEntity)
        {
            // The entity left memory as empty while this message was being written; an entity exists whenever it
            // has mail, so the message goes to its current (or a new) entry instead of being dropped.
            target = ResolveTarget(target.InstanceId)!;
        }

        if (target.Removed)
        {
            var cleanup = new StoreBatch();
            cleanup.DeleteMessages.Add(message.Sequence);
            CommitCleanup(cleanup);
            return;
        }

        AddMessage(target, new PendingMessage(message.Sequence, message.Event, message.VisibleAt, Persisted: true, ActivitySequence: 0), now);
        MakeReady(target, now);
    }

    /// <summary>
    /// Drops an instance whose creating commit failed: its id is free again, and whoever waits for the creation
    /// (a message sender, a reader) goes on and finds no instance.
    /// </summary>
    private void DropUnwritten(InstanceEntry entry)
    {
        _instances.Remove(entry.InstanceId);
        entry.Removed = true;
        entry.UnwrittenStart = null;
        entry.Creating?.TrySetResult();
        entry.Creating = null;
    }

    /// <summary>Drops a terminal instance from memory; whatever still sits in its inbox is deleted.</summary>
    private void RemoveFinished(InstanceEntry entry)
    {
        entry.Removed = true;
        _instances.Remove(entry.InstanceId);
        var cleanup = new StoreBatch();
        foreach (var m in entry.Inbox)
        {
            AddConsumption(cleanup, m);
        }

        entry.Inbox.Clear();
        CommitCleanup(cleanup);
    }
}
