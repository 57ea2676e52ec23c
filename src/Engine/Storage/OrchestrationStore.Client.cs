using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Storage;

public sealed partial class OrchestrationStore
{
    /// <inheritdoc />
    public async Task CreateInstanceAsync(NewInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        await EnsureStarted().ConfigureAwait(false);
        var id = instance.Metadata.InstanceId;
        InstanceEntry entry;
        lock (_sync)
        {
            if (_instances.TryGetValue(id, out var existing))
            {
                throw new InstanceAlreadyExistsException(id, existing.Metadata?.Status ?? OrchestrationRuntimeStatus.Running);
            }

            // Reserve the id first, so two racing creates cannot both pass the checks below.
            entry = new InstanceEntry(id)
            {
                Metadata = instance.Metadata,
                Creating = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously),
            };
            _instances.Add(id, entry);
        }

        Task? written = null;
        try
        {
            var batch = new StoreBatch();
            var previous = await _backend.ReadInstanceAsync(id, includePayloads: false, cancellationToken).ConfigureAwait(false);
            if (previous is not null)
            {
                if (!instance.ReplaceTerminal || (instance.ReplaceableStatuses is { } replaceable && !replaceable.Contains(previous.Status)))
                {
                    throw new InstanceAlreadyExistsException(id, previous.Status);
                }

                batch.DeleteInstances.Add(id);
            }

            long sequence;
            lock (_sync)
            {
                sequence = NextSequence();

                // With a dispatcher waiting for work, the start is written with the first episode's checkpoint
                // instead of on its own: that episode runs at once, and this call returns when it committed.
                if (instance.Metadata.ScheduledStartAt is null && _signals[(int)WorkItemKind.Orchestration].HasWaiter)
                {
                    var now = Now;
                    var start = new UnwrittenStart([.. batch.DeleteInstances]);
                    entry.UnwrittenStart = start;
                    entry.History = [];
                    AddMessage(entry, new PendingMessage(sequence, instance.ExecutionStarted, null, Persisted: false, ActivitySequence: 0), now);
                    MakeReady(entry, now);
                    written = start.Written.Task;
                }
            }

            if (written is null)
            {
                var visibleAt = instance.Metadata.ScheduledStartAt;
                batch.UpsertInstances.Add(instance.Metadata);
                batch.InsertMessages.Add(new StoredMessage(sequence, id, visibleAt, instance.ExecutionStarted));
                await _backend.CommitAsync(batch, CancellationToken.None).ConfigureAwait(false);
                lock (_sync)
                {
                    var now = Now;
                    var creating = entry.Creating!;
                    entry.Creating = null;
                    entry.History = [];
                    AddMessage(entry, new PendingMessage(sequence, instance.ExecutionStarted, visibleAt, Persisted: true, ActivitySequence: 0), now);
                    MakeReady(entry, now);
                    NotifyChanged(id, statusChangedTo: instance.Metadata);
                    creating.TrySetResult();
                }
            }
        }
        catch
        {
            lock (_sync)
            {
                DropUnwritten(entry);
            }

            throw;
        }

        if (written is not null)
        {
            // The entry is the worker's now: a wait given up leaves the start to happen, as a lost reply would. A
            // failed first checkpoint removed the instance (see CompleteOrchestrationAsync) and fails this call.
            await written.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<bool> SendMessageAsync(string instanceId, HistoryEvent message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        await EnsureStarted().ConfigureAwait(false);
        while (true)
        {
            InstanceEntry? entry;
            Task? creating;
            lock (_sync)
            {
                _instances.TryGetValue(instanceId, out entry);
                creating = entry?.Creating?.Task;
            }

            if (entry is null || entry.Removed)
            {
                var stored = await _backend.ReadInstanceAsync(instanceId, includePayloads: false, cancellationToken).ConfigureAwait(false);
                return stored is null ? throw new InstanceNotFoundException(instanceId) : false;
            }

            if (entry.IsEntity)
            {
                throw new ArgumentException($"'{instanceId}' is an entity; signal it instead of sending it orchestration messages.", nameof(instanceId));
            }

            if (creating is not null)
            {
                await creating.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            long sequence;
            lock (_sync)
            {
                sequence = NextSequence();
            }

            var batch = new StoreBatch();
            batch.InsertMessages.Add(new StoredMessage(sequence, instanceId, null, message));
            await _backend.CommitAsync(batch, CancellationToken.None).ConfigureAwait(false);
            lock (_sync)
            {
                if (entry.Removed)
                {
                    // It finished while the message was being written; nothing will consume it.
                    var cleanup = new StoreBatch();
                    cleanup.DeleteMessages.Add(sequence);
                    CommitCleanup(cleanup);
                    return false;
                }

                var now = Now;
                AddMessage(entry, new PendingMessage(sequence, message, null, Persisted: true, ActivitySequence: 0), now);
                MakeReady(entry, now);
                return true;
            }
        }
    }

    /// <inheritdoc />
    public async Task<OrchestrationMetadata?> GetInstanceAsync(string instanceId, bool includePayloads, CancellationToken cancellationToken)
    {
        await EnsureStarted().ConfigureAwait(false);
        while (true)
        {
            Task? creating = null;
            lock (_sync)
            {
                if (_instances.TryGetValue(instanceId, out var entry) && entry is { Removed: false, Metadata: { } metadata })
                {
                    if (entry.Creating is null)
                    {
                        return includePayloads ? metadata : metadata.WithoutPayloads();
                    }

                    creating = entry.Creating.Task;
                }
            }

            if (creating is null)
            {
                break;
            }

            // An instance being created is answered once its creation committed or failed, so a caller that joins a
            // start made at the same moment (the same request id) finds the instance rather than nothing.
            await creating.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        return await _backend.ReadInstanceAsync(instanceId, includePayloads, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<InstancePage> QueryInstancesAsync(OrchestrationQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        await EnsureStarted().ConfigureAwait(false);
        return await _backend.QueryInstancesAsync(query, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, string? executionId, CancellationToken cancellationToken)
    {
        await EnsureStarted().ConfigureAwait(false);
        lock (_sync)
        {
            if (_instances.TryGetValue(instanceId, out var entry) && entry is { Creating: null, Removed: false, Metadata: { } m, History: { } history }
                && (executionId is null || executionId == m.ExecutionId))
            {
                return history.ToArray();
            }
        }

        return await _backend.ReadHistoryAsync(instanceId, executionId, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken)
    {
        await EnsureStarted().ConfigureAwait(false);
        lock (_sync)
        {
            if (_instances.TryGetValue(instanceId, out var entry) && !entry.IsEntity)
            {
                throw new InstanceStateException(instanceId, entry.Metadata?.Status ?? OrchestrationRuntimeStatus.Pending, "purge");
            }
        }

        var stored = await _backend.ReadInstanceAsync(instanceId, includePayloads: false, cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            return 0;
        }

        var batch = new StoreBatch();
        batch.DeleteInstances.Add(instanceId);
        await _backend.CommitAsync(batch, CancellationToken.None).ConfigureAwait(false);
        return 1;
    }

    /// <inheritdoc />
    public async Task<int> PurgeInstancesAsync(PurgeFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        filter.Validate();
        await EnsureStarted().ConfigureAwait(false);
        const int Chunk = 500;
        var purged = 0;
        var skipped = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var found = await _backend.FindPurgeableAsync(filter, Chunk + skipped.Count, cancellationToken).ConfigureAwait(false);
            var batch = new StoreBatch();
            lock (_sync)
            {
                foreach (var id in found)
                {
                    // An id being re-created right now is not terminal any more.
                    if (_instances.ContainsKey(id))
                    {
                        skipped.Add(id);
                    }
                    else if (!skipped.Contains(id))
                    {
                        batch.DeleteInstances.Add(id);
                    }
                }
            }

            if (batch.DeleteInstances.Count == 0)
            {
                return purged;
            }

            await _backend.CommitAsync(batch, CancellationToken.None).ConfigureAwait(false);
            purged += batch.DeleteInstances.Count;
            if (found.Count < Chunk + skipped.Count)
            {
                return purged;
            }
        }
    }

    /// <inheritdoc />
    public Task WaitForInstanceChangeAsync(string instanceId, CancellationToken cancellationToken)
    {
        lock (_sync)
        {
            if (!_changeWaiters.TryGetValue(instanceId, out var waiter))
            {
                _changeWaiters[instanceId] = waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            return waiter.Task.WaitAsync(cancellationToken);
        }
    }

    /// <inheritdoc />
    public Task<OrchestrationMetadata> WaitForStatusChangeAsync(string instanceId, CancellationToken cancellationToken)
    {
        lock (_sync)
        {
            if (!_statusWaiters.TryGetValue(instanceId, out var waiter))
            {
                _statusWaiters[instanceId] = waiter = new TaskCompletionSource<OrchestrationMetadata>(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            return waiter.Task.WaitAsync(cancellationToken);
        }
    }
}
