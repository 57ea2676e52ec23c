using Google.Protobuf.WellKnownTypes;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Storage;

/// <summary>
/// Entities: an inbox of operations run one batch at a time, and a lock that critical sections take. Lock
/// requests and releases are the store's own bookkeeping (the protocol leaves them to the backend): they are
/// applied here, durably, without a worker; only operations go to workers.
/// </summary>
public sealed partial class OrchestrationStore
{
    private const int MaxEntityBatch = 100;

    /// <inheritdoc />
    public async Task SignalEntityAsync(EntityInstanceId entity, string operation, string? input, DateTime? scheduledTime, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(operation);
        await EnsureStarted().ConfigureAwait(false);
        var signal = new EntityOperationSignaledEvent { RequestId = Guid.NewGuid().ToString(), Operation = operation, Input = input };
        if (scheduledTime is { } at)
        {
            signal.ScheduledTime = Timestamp.FromDateTime(at.ToUniversalTime());
        }

        var message = new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(Now), EntityOperationSignaled = signal };
        InstanceEntry target;
        StoredMessage stored;
        lock (_sync)
        {
            target = ResolveTarget(entity.ToString())!;
            stored = new StoredMessage(NextSequence(), target.InstanceId, scheduledTime?.ToUniversalTime(), message);
        }

        var batch = new StoreBatch();
        batch.InsertMessages.Add(stored);
        await _backend.CommitAsync(batch, CancellationToken.None).ConfigureAwait(false);
        lock (_sync)
        {
            Deliver(target, stored, Now);
        }
    }

    /// <inheritdoc />
    public async Task<EntityMetadata?> GetEntityAsync(EntityInstanceId entity, bool includeState, CancellationToken cancellationToken)
    {
        await EnsureStarted().ConfigureAwait(false);
        lock (_sync)
        {
            return _instances.TryGetValue(entity.ToString(), out var entry) && entry.IsEntity && !entry.Removed
                ? ToMetadata(entry, includeState)
                : null;
        }
    }

    /// <inheritdoc />
    public async Task<EntityPage> QueryEntitiesAsync(EntityListQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.PageSize is < 1 or > OrchestrationQuery.MaxPageSize)
        {
            throw new ArgumentException($"PageSize must be between 1 and {OrchestrationQuery.MaxPageSize}, not {query.PageSize}.", nameof(query));
        }

        await EnsureStarted().ConfigureAwait(false);
        var prefix = query.InstanceIdStartsWith ?? "@";
        lock (_sync)
        {
            var page = _instances.Values
                .Where(e => e.IsEntity && !e.Removed && e.InstanceId.StartsWith(prefix, StringComparison.Ordinal)
                    && (query.ContinuationToken is null || string.CompareOrdinal(e.InstanceId, query.ContinuationToken) > 0)
                    && (query.IncludeTransient || e.Entity!.SerializedState is not null))
                .OrderBy(e => e.InstanceId, StringComparer.Ordinal)
                .Take(query.PageSize + 1)
                .ToList();
            var more = page.Count > query.PageSize;
            if (more)
            {
                page.RemoveAt(page.Count - 1);
            }

            return new EntityPage(page.ConvertAll(e => ToMetadata(e, query.IncludeState)), more ? page[^1].InstanceId : null);
        }
    }

    /// <inheritdoc />
    public async Task<CleanEntityStorageResult> CleanEntityStorageAsync(bool removeEmptyEntities, bool releaseOrphanedLocks, CancellationToken cancellationToken)
    {
        await EnsureStarted().ConfigureAwait(false);
        var batch = new StoreBatch();
        var changed = new List<(InstanceEntry Entry, EntityRecord Record, long Token, bool Remove)>();
        int removed = 0, released = 0;
        lock (_sync)
        {
            var now = Now;
            foreach (var entry in _instances.Values.Where(e => e.IsEntity && !e.Removed && e.LeaseToken == 0).ToList())
            {
                var record = entry.Entity!;
                if (releaseOrphanedLocks && record.LockedBy is { } holder && !IsRunningOrchestration(holder))
                {
                    record = record with { LockedBy = null, CriticalSectionId = null, LockSet = null, LastModifiedAt = now };
                    released++;
                }

                var remove = removeEmptyEntities && record.IsEmpty && entry.Inbox.Count == 0;
                if (remove)
                {
                    removed++;
                    batch.DeleteEntities.Add(entry.InstanceId);
                }
                else if (!ReferenceEquals(record, entry.Entity))
                {
                    batch.UpsertEntities.Add(record);
                }
                else
                {
                    continue;
                }

                changed.Add((entry, record, TakeLease(entry, TimeSpan.FromMinutes(1), now), remove));
                entry.Committing = true;
            }
        }

        var committed = false;
        try
        {
            await _backend.CommitAsync(batch, CancellationToken.None).ConfigureAwait(false);
            committed = true;
        }
        finally
        {
            lock (_sync)
            {
                var now = Now;
                foreach (var (entry, record, token, remove) in changed)
                {
                    if (entry.LeaseToken != token)
                    {
                        continue;
                    }

                    ReleaseLease(entry);
                    if (!committed)
                    {
                        // Memory follows the backend: nothing was released or removed.
                        MakeReady(entry, now);
                        continue;
                    }

                    entry.Entity = record;
                    if (remove && entry.Inbox.Count == 0)
                    {
                        entry.Removed = true;
                        _instances.Remove(entry.InstanceId);
                    }
                    else
                    {
                        MakeReady(entry, now);
                    }
                }
            }
        }

        return new CleanEntityStorageResult(removed, released);
    }

    /// <inheritdoc />
    public async Task<EntityWorkItem?> TryLockEntityAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        await EnsureStarted().ConfigureAwait(false);
        while (true)
        {
            InstanceEntry? entry = null;
            EntityRecord? record = null;
            long token;
            var batch = new StoreBatch();
            var consumed = new List<PendingMessage>();
            var deliveries = new List<(InstanceEntry Target, StoredMessage Message)>();
            lock (_sync)
            {
                var now = Now;
                Housekeep(now);
                while (_readyEntities.TryDequeue(out var candidate))
                {
                    candidate.Queued = false;
                    if (!candidate.Removed && candidate.LeaseToken == 0 && FirstDeliverableEntityMessage(candidate, now) is not null)
                    {
                        entry = candidate;
                        break;
                    }
                }

                if (entry is null)
                {
                    return null;
                }

                token = TakeLease(entry, lease, now);
                record = entry.Entity!;
                var first = FirstDeliverableEntityMessage(entry, now)!;
                if (IsOperation(first.Event))
                {
                    var operations = new List<PendingMessage>();
                    for (var next = first; next is not null && IsOperation(next.Event) && operations.Count < MaxEntityBatch;
                         next = FirstDeliverableEntityMessage(entry, now, operations))
                    {
                        operations.Add(next);
                    }

                    return new EntityWorkItem(record, operations.ConvertAll(m => m.Event), token, operations.ConvertAll(m => m.Sequence).ToArray());
                }

                // Lock requests and releases, as many as come in a row, in one transaction.
                record = ApplyLockMessagesInRow(entry, record, first, now, consumed, batch, deliveries);
                entry.Committing = true;
            }

            await CommitEntityStepAsync(entry, token, batch, consumed, record, deliveries, created: []).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<EntityWorkItem?> TryLockEntityForCallAsync(string entityInstanceId, HistoryEvent call, TimeSpan lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        await EnsureStarted().ConfigureAwait(false);
        if (call.EntityOperationCalled?.ParentInstanceId is not { } caller)
        {
            return null;
        }

        lock (_sync)
        {
            var now = Now;
            if (!_instances.TryGetValue(entityInstanceId, out var entry) || !IsIdleEntity(entry, now) || entry.Entity!.LockedBy != caller)
            {
                return null;
            }

            var token = TakeLease(entry, lease, now);
            return new EntityWorkItem(entry.Entity, [call], token, []);
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<EntityWorkItem>?> TryLockEntitiesForSectionAsync(HistoryEvent lockRequest, TimeSpan lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lockRequest);
        await EnsureStarted().ConfigureAwait(false);
        if (lockRequest.EntityLockRequested is not { Position: 0 } request || request.LockSet.Count == 0
            || request.LockSet.Distinct(StringComparer.Ordinal).Count() != request.LockSet.Count)
        {
            return null;
        }

        lock (_sync)
        {
            var now = Now;
            if (!IsRunningOrchestration(request.ParentInstanceId))
            {
                return null;
            }

            // Every entity is checked before any is leased, so a refusal leaves nothing behind.
            foreach (var id in request.LockSet)
            {
                if (!EntityInstanceId.IsEntityInstanceId(id))
                {
                    return null;
                }

                if (_instances.TryGetValue(id, out var entry) && !entry.Removed && (!IsIdleEntity(entry, now) || entry.Entity!.LockedBy is not null))
                {
                    return null;
                }
            }

            var leased = new List<EntityWorkItem>(request.LockSet.Count);
            foreach (var id in request.LockSet)
            {
                // An entity that does not exist yet comes into being with the lock, as it would from its inbox.
                var entry = ResolveTarget(id)!;
                var token = TakeLease(entry, lease, now);
                var record = entry.Entity! with
                {
                    LockedBy = request.ParentInstanceId,
                    CriticalSectionId = request.CriticalSectionId,
                    LockSet = [.. request.LockSet],
                    LastModifiedAt = now,
                };
                leased.Add(new EntityWorkItem(record, [lockRequest], token, []));
            }

            return leased;
        }
    }

    /// <summary>An entity no worker holds, that exists, and that has nothing it could deliver before a new message.</summary>
    private static bool IsIdleEntity(InstanceEntry entry, DateTime now) =>
        entry is { IsEntity: true, Removed: false, LeaseToken: 0, Creating: null } && FirstDeliverableEntityMessage(entry, now) is null;

    /// <summary>
    /// Stages the entity operations an episode ran inline (<see cref="OrchestrationCheckpoint.EntityCalls"/>) in its
    /// checkpoint's batch: each entity's new state, written under the lease it was run under.
    /// </summary>
    private void StageInlineEntityCalls(OrchestrationCheckpoint checkpoint, DateTime now, StoreBatch batch, List<InlineEntityStep> steps)
    {
        // Every lease is checked before anything is staged, so a lost one leaves nothing half done.
        var entries = checkpoint.EntityCalls.ConvertAll(c => GetLeasedEntry(c.WorkItem.InstanceId, c.WorkItem.LeaseToken));
        for (var i = 0; i < entries.Count; i++)
        {
            var call = checkpoint.EntityCalls[i];
            var workItem = call.WorkItem;
            var entry = entries[i];

            // The work item's record holds the lock and the state the earlier calls of this checkpoint left; a batch
            // that failed as a whole changed nothing.
            var record = call.Result.FailureDetails is null ? workItem.Entity with { SerializedState = call.StateAfter, LastModifiedAt = now } : workItem.Entity;
            batch.UpsertEntities.Add(record);
            entry.Committing = true;
            steps.Add(new InlineEntityStep(entry, workItem.LeaseToken, record, [], RanCall: true));
        }
    }

    /// <summary>The message that answers a call: the operation's output, or its failure (or the batch's).</summary>
    internal static HistoryEvent ResponseTo(EntityOperationCalledEvent call, EntityBatchResult result, int index, DateTime now)
    {
        var response = new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(now) };
        var outcome = result.FailureDetails is null && index < result.Results.Count ? result.Results[index] : null;
        if (outcome?.Success is { } success)
        {
            response.EntityOperationCompleted = new EntityOperationCompletedEvent { RequestId = call.RequestId, Output = success.Result };
        }
        else
        {
            response.EntityOperationFailed = new EntityOperationFailedEvent
            {
                RequestId = call.RequestId,
                FailureDetails = outcome?.Failure?.FailureDetails ?? result.FailureDetails
                    ?? new FailureDetails("EntityBatchIncomplete", $"The entity batch returned no result for operation '{call.Operation}'.").ToProto(),
            };
        }

        return response;
    }

    /// <inheritdoc />
    public async Task CompleteEntityAsync(EntityWorkItem workItem, EntityBatchResult result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        ArgumentNullException.ThrowIfNull(result);
        await EnsureStarted().ConfigureAwait(false);
        var batch = new StoreBatch();
        var deliveries = new List<(InstanceEntry Target, StoredMessage Message)>();
        var created = new List<(InstanceEntry Child, StoredMessage Start)>();
        InstanceEntry entry;
        List<PendingMessage> consumed;
        EntityRecord record;
        lock (_sync)
        {
            var now = Now;
            entry = GetLeasedEntry(workItem.InstanceId, workItem.LeaseToken);
            var sequences = new HashSet<long>(workItem.MessageSequences);
            consumed = entry.Inbox.FindAll(m => sequences.Contains(m.Sequence));
            foreach (var m in consumed)
            {
                AddConsumption(batch, m);
            }

            // A batch that failed as a whole (no such entity, a broken worker) leaves the state as it was.
            record = result.FailureDetails is null
                ? entry.Entity! with { SerializedState = result.EntityState, LastModifiedAt = now }
                : entry.Entity!;
            for (var i = 0; i < workItem.Operations.Count; i++)
            {
                if (workItem.Operations[i].EntityOperationCalled is not { } call)
                {
                    continue;
                }

                QueueDelivery(call.ParentInstanceId, ResponseTo(call, result, i, now), null, batch, deliveries);
            }

            if (result.FailureDetails is null)
            {
                foreach (var action in result.Actions)
                {
                    ApplyEntityAction(action, now, batch, deliveries, created);
                }
            }

            if (record.IsEmpty && entry.Inbox.Count == consumed.Count)
            {
                batch.DeleteEntities.Add(record.InstanceId);
            }
            else
            {
                batch.UpsertEntities.Add(record);
            }

            entry.Committing = true;
        }

        await CommitEntityStepAsync(entry, workItem.LeaseToken, batch, consumed, record, deliveries, created).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task AbandonEntityAsync(EntityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        await EnsureStarted().ConfigureAwait(false);
        lock (_sync)
        {
            if (_instances.TryGetValue(workItem.InstanceId, out var entry) && entry.LeaseToken == workItem.LeaseToken)
            {
                var now = Now;
                if (delay > TimeSpan.Zero)
                {
                    entry.RetryAt = now + delay;
                    _timers.Enqueue(entry, now + delay);
                }

                EndEntityLease(entry, now);
            }
        }
    }

    private async Task CommitEntityStepAsync(
        InstanceEntry entry,
        long token,
        StoreBatch batch,
        List<PendingMessage> consumed,
        EntityRecord record,
        List<(InstanceEntry Target, StoredMessage Message)> deliveries,
        List<(InstanceEntry Child, StoredMessage Start)> created)
    {
        try
        {
            await _backend.CommitAsync(batch, CancellationToken.None).ConfigureAwait(false);
        }
        catch
        {
            lock (_sync)
            {
                foreach (var (child, _) in created)
                {
                    DropUnwritten(child);
                }

                entry.Committing = false;
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
            var now = Now;
            var consumedSet = consumed.ToHashSet();
            entry.Inbox.RemoveAll(consumedSet.Contains);
            entry.Entity = record;
            foreach (var (child, start) in created)
            {
                ActivateNewInstance(child, start, now);
            }

            foreach (var (target, message) in deliveries)
            {
                Deliver(target, message, now);
            }

            EndEntityLease(entry, now);
        }
    }

    /// <summary>
    /// Applies a lock request or release an episode sends in the episode's own checkpoint, when the entity would
    /// process it next anyway: no worker holds the entity, nothing it could deliver is waiting, and no earlier message
    /// of this checkpoint goes to it. Lock requests and releases that then come next (other orchestrations waiting for
    /// this release) are applied too, as the entity dispatcher would. It saves a commit and a dispatch per lock and
    /// per release, and the grant reaches the orchestration with the same commit.
    /// </summary>
    /// <returns>False when the message must go through the entity's inbox instead.</returns>
    private bool TryApplyLockMessageInline(
        InstanceEntry target,
        OutboundMessage outbound,
        OrchestrationMetadata sender,
        DateTime now,
        StoreBatch batch,
        List<(InstanceEntry Target, StoredMessage Message)> deliveries,
        List<InlineEntityStep> steps)
    {
        var message = outbound.Event;
        var isLock = message.EventTypeCase == HistoryEvent.EventTypeOneofCase.EntityLockRequested;

        // An entity this checkpoint already ran a call on (inside the critical section this message may end) is
        // held under that call's lease, and its record is the one staged for it.
        var staged = steps.FindIndex(s => ReferenceEquals(s.Entry, target) && s.RanCall);
        var current = staged >= 0 ? steps[staged].Record : target.Entity;
        if ((!isLock && message.EventTypeCase != HistoryEvent.EventTypeOneofCase.EntityUnlockSent)
            || outbound.VisibleAt is not null
            || !target.IsEntity || target.Removed || (target.LeaseToken != 0 && staged < 0) || target.Creating is not null

            // A finishing orchestration's lock request is dropped by the entity; leave that to the entity's turn.
            || (isLock && sender.IsTerminal)
            || (current!.LockedBy is { } holder && holder != ParentOf(message))
            || FirstDeliverableEntityMessage(target, now, asIf: current) is not null
            || deliveries.Exists(d => ReferenceEquals(d.Target, target)))
        {
            return false;
        }

        long token;
        if (staged >= 0)
        {
            token = steps[staged].Token;
            batch.UpsertEntities.Remove(steps[staged].Record);
            steps.RemoveAt(staged);
        }
        else
        {
            token = TakeLease(target, TimeSpan.FromMinutes(1), now);
        }

        target.Committing = true;
        var consumed = new List<PendingMessage>();
        var record = ApplyLockMessage(current, message, now, batch, deliveries);
        record = ApplyLockMessagesInRow(target, record, FirstDeliverableEntityMessage(target, now, consumed, record), now, consumed, batch, deliveries);
        steps.Add(new InlineEntityStep(target, token, record, consumed));
        return true;
    }

    /// <summary>
    /// Applies <paramref name="next"/> and the lock requests and releases that follow it in a row (up to the first
    /// operation), adding them to <paramref name="consumed"/>, and stages the resulting record: deleted when it is empty
    /// and nothing is left in the inbox, written otherwise. Returns the record.
    /// </summary>
    private EntityRecord ApplyLockMessagesInRow(
        InstanceEntry entry,
        EntityRecord record,
        PendingMessage? next,
        DateTime now,
        List<PendingMessage> consumed,
        StoreBatch batch,
        List<(InstanceEntry Target, StoredMessage Message)> deliveries)
    {
        for (; next is not null && !IsOperation(next.Event); next = FirstDeliverableEntityMessage(entry, now, consumed, record))
        {
            consumed.Add(next);
            AddConsumption(batch, next);
            record = ApplyLockMessage(record, next.Event, now, batch, deliveries);
        }

        if (record.IsEmpty && entry.Inbox.Count == consumed.Count)
        {
            batch.DeleteEntities.Add(record.InstanceId);
        }
        else
        {
            batch.UpsertEntities.Add(record);
        }

        return record;
    }

    /// <summary>After the checkpoint committed: the entities take the records the inline lock steps made.</summary>
    private void FinishInlineEntitySteps(List<InlineEntityStep> steps, DateTime now)
    {
        foreach (var (entry, token, record, consumed, _) in steps)
        {
            entry.Committing = false;
            if (entry.LeaseToken != token)
            {
                continue;
            }

            var consumedSet = consumed.ToHashSet();
            entry.Inbox.RemoveAll(consumedSet.Contains);
            entry.Entity = record;
            EndEntityLease(entry, now);
        }
    }

    /// <summary>After the checkpoint failed: the entities are as they were (one made for this checkpoint leaves memory again).</summary>
    private void AbandonInlineEntitySteps(List<InlineEntityStep> steps)
    {
        var now = Now;
        foreach (var (entry, token, _, _, _) in steps)
        {
            entry.Committing = false;
            if (entry.LeaseToken != token)
            {
                continue;
            }

            EndEntityLease(entry, now);
        }
    }

    /// <summary>
    /// Ends an entity's lease. An entity with no state, no lock and no mail leaves memory: nothing of it is stored (one
    /// made in memory for a lock or a message that was given back) or the commit that emptied it deleted its row. Any
    /// other is offered its next work.
    /// </summary>
    private void EndEntityLease(InstanceEntry entry, DateTime now)
    {
        ReleaseLease(entry);
        if (entry.Entity!.IsEmpty && entry.Inbox.Count == 0)
        {
            if (_instances.TryGetValue(entry.InstanceId, out var current) && ReferenceEquals(current, entry))
            {
                _instances.Remove(entry.InstanceId);
            }

            entry.Removed = true;
            return;
        }

        MakeReady(entry, now);
    }

    /// <summary>
    /// A lock step applied to an entity inside an orchestration's checkpoint, or the state an entity call left that
    /// the worker ran inside it (<paramref name="RanCall"/>), held under the entity's lease until it commits.
    /// </summary>
    private sealed record InlineEntityStep(InstanceEntry Entry, long Token, EntityRecord Record, List<PendingMessage> Consumed, bool RanCall = false);

    /// <summary>Applies a lock request or release to the entity's record and queues what it sends on.</summary>
    private EntityRecord ApplyLockMessage(EntityRecord record, HistoryEvent message, DateTime now, StoreBatch batch, List<(InstanceEntry, StoredMessage)> deliveries)
    {
        if (message.EntityUnlockSent is { } unlock)
        {
            return record.LockedBy == unlock.ParentInstanceId && record.CriticalSectionId == unlock.CriticalSectionId
                ? record with { LockedBy = null, CriticalSectionId = null, LockSet = null, LastModifiedAt = now }
                : record;
        }

        var request = message.EntityLockRequested;
        if (!IsRunningOrchestration(request.ParentInstanceId))
        {
            // The orchestration that asked finished before its turn came; its own end released what it held.
            Log.LockRequestDropped(_logger, record.InstanceId, request.ParentInstanceId ?? string.Empty);
            return record;
        }

        record = record with
        {
            LockedBy = request.ParentInstanceId,
            CriticalSectionId = request.CriticalSectionId,
            LockSet = [.. request.LockSet],
            LastModifiedAt = now,
        };
        var position = request.Position + 1;
        if (position < request.LockSet.Count)
        {
            var forward = message.Clone();
            forward.EntityLockRequested.Position = position;
            QueueDelivery(request.LockSet[position], forward, null, batch, deliveries);
        }
        else
        {
            var granted = new HistoryEvent
            {
                EventId = -1,
                Timestamp = Timestamp.FromDateTime(now),
                EntityLockGranted = new EntityLockGrantedEvent { CriticalSectionId = request.CriticalSectionId },
            };
            QueueDelivery(request.ParentInstanceId, granted, null, batch, deliveries);
        }

        return record;
    }

    private void ApplyEntityAction(
        OperationAction action, DateTime now, StoreBatch batch, List<(InstanceEntry, StoredMessage)> deliveries, List<(InstanceEntry, StoredMessage)> created)
    {
        if (action.SendSignal is { } signal)
        {
            var visibleAt = signal.ScheduledTime?.ToDateTime();
            var message = new HistoryEvent
            {
                EventId = -1,
                Timestamp = Timestamp.FromDateTime(now),
                EntityOperationSignaled = new EntityOperationSignaledEvent
                {
                    RequestId = Guid.NewGuid().ToString(),
                    Operation = signal.Name,
                    Input = signal.Input,
                    ScheduledTime = signal.ScheduledTime,
                },
            };
            QueueDelivery(signal.InstanceId, message, visibleAt, batch, deliveries);
        }
        else if (action.StartNewOrchestration is { } start)
        {
            var instanceId = string.IsNullOrEmpty(start.InstanceId) ? InstanceIds.NewOrderedId() : start.InstanceId;
            if (_instances.ContainsKey(instanceId))
            {
                Log.MessageDropped(_logger, instanceId, "StartNewOrchestration");
                return;
            }

            var executionId = Guid.NewGuid().ToString("N");
            var scheduled = start.ScheduledTime?.ToDateTime();
            var metadata = new OrchestrationMetadata
            {
                InstanceId = instanceId,
                Name = start.Name,
                Version = start.Version,
                ExecutionId = executionId,
                Status = OrchestrationRuntimeStatus.Pending,
                CreatedAt = now,
                LastUpdatedAt = now,
                ScheduledStartAt = scheduled,
                SerializedInput = start.Input,
            };
            var started = new HistoryEvent
            {
                EventId = -1,
                Timestamp = Timestamp.FromDateTime(now),
                ExecutionStarted = new ExecutionStartedEvent
                {
                    Name = start.Name,
                    Version = start.Version,
                    Input = start.Input,
                    OrchestrationInstance = new OrchestrationInstance { InstanceId = instanceId, ExecutionId = executionId },
                    ScheduledStartTimestamp = start.ScheduledTime,
                },
            };
            created.Add(ReserveNewInstance(metadata, started, batch));
        }
    }

    private void QueueDelivery(string? instanceId, HistoryEvent message, DateTime? visibleAt, StoreBatch batch, List<(InstanceEntry, StoredMessage)> deliveries)
    {
        var target = instanceId is null ? null : ResolveTarget(instanceId);
        if (target is null)
        {
            Log.MessageDropped(_logger, instanceId ?? string.Empty, message.EventTypeCase.ToString());
            return;
        }

        var stored = new StoredMessage(NextSequence(), target.InstanceId, visibleAt, message);
        batch.InsertMessages.Add(stored);
        deliveries.Add((target, stored));
    }

    /// <summary>Reserves the id of an instance a checkpoint creates, and adds its rows to the batch.</summary>
    private (InstanceEntry Entry, StoredMessage Start) ReserveNewInstance(OrchestrationMetadata metadata, HistoryEvent executionStarted, StoreBatch batch)
    {
        var entry = new InstanceEntry(metadata.InstanceId)
        {
            Metadata = metadata,
            Creating = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously),
        };
        _instances.Add(metadata.InstanceId, entry);
        var start = new StoredMessage(NextSequence(), metadata.InstanceId, metadata.ScheduledStartAt, executionStarted);
        batch.DeleteInstances.Add(metadata.InstanceId);
        batch.UpsertInstances.Add(metadata);
        batch.InsertMessages.Add(start);
        return (entry, start);
    }

    /// <summary>Makes a reserved instance live once its rows are committed.</summary>
    private void ActivateNewInstance(InstanceEntry entry, StoredMessage start, DateTime now)
    {
        var creating = entry.Creating!;
        entry.Creating = null;
        entry.History = [];
        AddMessage(entry, new PendingMessage(start.Sequence, start.Event, start.VisibleAt, Persisted: true, ActivitySequence: 0), now);
        MakeReady(entry, now);
        creating.TrySetResult();
        NotifyChanged(entry.InstanceId, statusChangedTo: entry.Metadata);
    }

    private bool IsRunningOrchestration(string? instanceId) =>
        instanceId is not null && _instances.TryGetValue(instanceId, out var entry) && !entry.Removed && entry.Metadata is { IsTerminal: false };

    private static InstanceEntry NewEntityEntry(string instanceId, DateTime now) =>
        new(instanceId) { Entity = new EntityRecord(instanceId, null, now, null, null) };

    private static bool IsOperation(HistoryEvent e) =>
        e.EventTypeCase is HistoryEvent.EventTypeOneofCase.EntityOperationCalled or HistoryEvent.EventTypeOneofCase.EntityOperationSignaled;

    private static string? ParentOf(HistoryEvent e) => e.EventTypeCase switch
    {
        HistoryEvent.EventTypeOneofCase.EntityOperationCalled => e.EntityOperationCalled.ParentInstanceId,
        HistoryEvent.EventTypeOneofCase.EntityLockRequested => e.EntityLockRequested.ParentInstanceId,
        HistoryEvent.EventTypeOneofCase.EntityUnlockSent => e.EntityUnlockSent.ParentInstanceId,
        _ => null,
    };

    /// <summary>
    /// The next message an entity may process: the oldest visible one, except that while the entity is locked
    /// only messages from the lock holder pass (they jump ahead of everyone else's).
    /// </summary>
    private static PendingMessage? FirstDeliverableEntityMessage(
        InstanceEntry entry, DateTime now, List<PendingMessage>? skip = null, EntityRecord? asIf = null)
    {
        var lockedBy = (asIf ?? entry.Entity!).LockedBy;
        foreach (var m in entry.Inbox)
        {
            if ((m.VisibleAt is { } at && at > now) || (skip is not null && skip.Contains(m)))
            {
                continue;
            }

            if (lockedBy is null || ParentOf(m.Event) == lockedBy)
            {
                return m;
            }
        }

        return null;
    }

    private static EntityMetadata ToMetadata(InstanceEntry entry, bool includeState)
    {
        var record = entry.Entity!;
        return new EntityMetadata
        {
            Id = EntityInstanceId.Parse(entry.InstanceId),
            SerializedState = includeState ? record.SerializedState : null,
            LastModifiedAt = record.LastModifiedAt,
            LockedBy = record.LockedBy,
            CriticalSectionId = record.CriticalSectionId,
            BacklogQueueSize = entry.Inbox.Count,
        };
    }
}
