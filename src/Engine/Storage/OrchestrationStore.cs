using Microsoft.DurableTask.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataWorkflows.Engine.Storage;

/// <summary>
/// The store the engine runs on: it keeps the scheduling state (inboxes, ready queues, timers, leases) in memory
/// and writes every change through its <see cref="IStoreBackend"/> before acting on it. Memory is only ever
/// updated after the backend committed, so a crash at any point leaves the backend consistent and a restart
/// rebuilds the same scheduling state from it.
/// </summary>
/// <remarks>
/// A backend belongs to one store at a time (the SQLite backend enforces this with a lock file); stores shared by
/// several hosts use their own implementation of <see cref="IOrchestrationStore"/>.
/// </remarks>
public sealed partial class OrchestrationStore : IOrchestrationStore
{
    private static readonly TimeSpan LeaseCheckInterval = TimeSpan.FromSeconds(1);

    private readonly IStoreBackend _backend;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _sync = new();
    private readonly Dictionary<string, InstanceEntry> _instances = new(StringComparer.Ordinal);
    private readonly Queue<InstanceEntry> _readyOrchestrations = new();
    private readonly Queue<InstanceEntry> _readyEntities = new();
    private readonly PriorityQueue<InstanceEntry, DateTime> _timers = new();
    private readonly Queue<ActivityEntry> _readyActivities = new();
    private readonly PriorityQueue<ActivityEntry, DateTime> _delayedActivities = new();
    private readonly Dictionary<long, ActivityEntry> _leasedActivities = [];
    private readonly HashSet<InstanceEntry> _leasedInstances = [];
    private readonly Dictionary<string, TaskCompletionSource> _changeWaiters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskCompletionSource<OrchestrationMetadata>> _statusWaiters = new(StringComparer.Ordinal);
    private readonly WorkSignal[] _signals = [new(), new(), new()];
    private Task? _started;
    private long _sequence;
    private long _leaseCounter;
    private DateTime _nextLeaseCheck;
    private bool _disposed;

    /// <summary>Creates a store over a backend.</summary>
    public OrchestrationStore(IStoreBackend backend, TimeProvider? timeProvider = null, ILogger<OrchestrationStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        _backend = backend;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger<OrchestrationStore>.Instance;
        EngineTelemetry.Track(this);
    }

    /// <summary>A store that keeps everything in memory, for tests and tools.</summary>
    public static OrchestrationStore CreateInMemory(TimeProvider? timeProvider = null) => new(new InMemoryStoreBackend(), timeProvider);

    /// <inheritdoc />
    public string Description => _backend.Description;

    /// <summary>The backend this store writes through.</summary>
    public IStoreBackend Backend => _backend;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_started is null || _started.IsFaulted || _started.IsCanceled)
            {
                _started = OpenAsync(cancellationToken);
            }

            return _started;
        }
    }

    private async Task OpenAsync(CancellationToken cancellationToken)
    {
        var recovered = await _backend.OpenAsync(cancellationToken).ConfigureAwait(false);
        var cleanup = new StoreBatch();
        lock (_sync)
        {
            var now = Now;
            _sequence = recovered.MaxSequence;
            foreach (var instance in recovered.ActiveInstances)
            {
                _instances[instance.InstanceId] = new InstanceEntry(instance.InstanceId) { Metadata = instance };
            }

            foreach (var entity in recovered.Entities)
            {
                _instances[entity.InstanceId] = new InstanceEntry(entity.InstanceId) { Entity = entity };
            }

            foreach (var message in recovered.Messages)
            {
                if (!_instances.TryGetValue(message.InstanceId, out var entry) && EntityInstanceId.IsEntityInstanceId(message.InstanceId))
                {
                    _instances[message.InstanceId] = entry = NewEntityEntry(message.InstanceId, now);
                }

                if (entry is null)
                {
                    // A message for an instance that finished before it was consumed.
                    cleanup.DeleteMessages.Add(message.Sequence);
                    continue;
                }

                AddMessage(entry, new PendingMessage(message.Sequence, message.Event, message.VisibleAt, Persisted: true, ActivitySequence: 0), now);
            }

            foreach (var activity in recovered.Activities)
            {
                if (IsActiveExecution(activity.Request.OrchestrationInstance))
                {
                    _readyActivities.Enqueue(new ActivityEntry(activity));
                }
                else
                {
                    cleanup.DeleteActivities.Add(activity.Sequence);
                }
            }

            foreach (var entry in _instances.Values)
            {
                MakeReady(entry, now);
            }

            Log.StoreOpened(_logger, _backend.Description, recovered.ActiveInstances.Count, recovered.Messages.Count, recovered.Activities.Count);
        }

        if (!cleanup.IsEmpty)
        {
            await _backend.CommitAsync(cleanup, CancellationToken.None).ConfigureAwait(false);
        }

        foreach (var signal in _signals)
        {
            signal.Set();
        }
    }

    private DateTime Now => _time.GetUtcNow().UtcDateTime;

    private long NextSequence() => ++_sequence;

    private Task EnsureStarted()
    {
        var started = _started;
        return started is { IsCompletedSuccessfully: true }
            ? Task.CompletedTask
            : started ?? throw new InvalidOperationException("The store has not been started; call StartAsync first.");
    }

    private bool IsActiveExecution(OrchestrationInstance instance) =>
        _instances.TryGetValue(instance.InstanceId, out var entry) && entry.Metadata is { } m && !entry.Removed
        && (string.IsNullOrEmpty(instance.ExecutionId) || m.ExecutionId == instance.ExecutionId);

    private void AddMessage(InstanceEntry entry, PendingMessage message, DateTime now)
    {
        entry.Inbox.Add(message);
        if (message.VisibleAt is { } at && at > now)
        {
            // A dispatcher asleep until a later due time (or the idle poll) must wake to wait for this one instead.
            if (!_timers.TryPeek(out _, out var due) || at < due)
            {
                _signals[(int)(entry.IsEntity ? WorkItemKind.Entity : WorkItemKind.Orchestration)].Set();
            }

            _timers.Enqueue(entry, at);
        }
    }

    /// <summary>The lengths of the ready queues, for the backlog gauge (read only when metrics are collected).</summary>
    internal (int Orchestrations, int Activities, int Entities) ReadyBacklog()
    {
        lock (_sync)
        {
            return (_readyOrchestrations.Count, _readyActivities.Count, _readyEntities.Count);
        }
    }

    /// <summary>
    /// Puts an entry in its ready queue when it has work it may be given now, and wakes its dispatcher unless
    /// <paramref name="wake"/> is false (the caller takes the work from the queue itself).
    /// </summary>
    private void MakeReady(InstanceEntry entry, DateTime now, bool wake = true)
    {
        if (entry.Queued || entry.LeaseToken != 0 || entry.IsReserved || entry.Removed)
        {
            return;
        }

        if (entry.RetryAt is { } retry && retry > now)
        {
            return;
        }

        if (entry.IsEntity)
        {
            if (FirstDeliverableEntityMessage(entry, now) is not null)
            {
                entry.Queued = true;
                _readyEntities.Enqueue(entry);
                _signals[(int)WorkItemKind.Entity].Set();
            }
        }
        else if (CollectDeliverable(entry, now, collect: null))
        {
            entry.Queued = true;
            _readyOrchestrations.Enqueue(entry);
            if (wake)
            {
                _signals[(int)WorkItemKind.Orchestration].Set();
            }
        }
    }

    /// <summary>
    /// Decides whether an orchestration has messages it may process now: not before its start message is due,
    /// and while suspended only when a resume or terminate arrived. Collects them in delivery order.
    /// </summary>
    private static bool CollectDeliverable(InstanceEntry entry, DateTime now, List<PendingMessage>? collect)
    {
        bool any = false, starts = false, control = false;
        foreach (var m in entry.Inbox)
        {
            if (m.VisibleAt is { } at && at > now)
            {
                continue;
            }

            any = true;
            switch (m.Event.EventTypeCase)
            {
                case HistoryEvent.EventTypeOneofCase.ExecutionStarted:
                    starts = true;
                    break;
                case HistoryEvent.EventTypeOneofCase.ExecutionTerminated:
                    starts = true;
                    control = true;
                    break;
                case HistoryEvent.EventTypeOneofCase.ExecutionResumed:
                    control = true;
                    break;
                default:
                    break;
            }
        }

        var status = entry.Metadata!.Status;
        if (!any || (status == OrchestrationRuntimeStatus.Pending && !starts) || (status == OrchestrationRuntimeStatus.Suspended && !control))
        {
            return false;
        }

        if (collect is not null)
        {
            // A new execution's start message goes first, so the code runs before the events meant for it.
            foreach (var m in entry.Inbox)
            {
                if ((m.VisibleAt is null || m.VisibleAt <= now) && m.Event.EventTypeCase == HistoryEvent.EventTypeOneofCase.ExecutionStarted)
                {
                    collect.Add(m);
                }
            }

            foreach (var m in entry.Inbox)
            {
                if ((m.VisibleAt is null || m.VisibleAt <= now) && m.Event.EventTypeCase != HistoryEvent.EventTypeOneofCase.ExecutionStarted)
                {
                    collect.Add(m);
                }
            }
        }

        return true;
    }

    /// <summary>Moves due timers and expired leases back into the ready queues.</summary>
    private void Housekeep(DateTime now)
    {
        while (_timers.TryPeek(out var entry, out var due) && due <= now)
        {
            _timers.Dequeue();
            MakeReady(entry, now);
        }

        while (_delayedActivities.TryPeek(out var activity, out var due) && due <= now)
        {
            _delayedActivities.Dequeue();
            _readyActivities.Enqueue(activity);
        }

        if (now < _nextLeaseCheck)
        {
            return;
        }

        _nextLeaseCheck = now + LeaseCheckInterval;
        // A lease whose holder is already committing does not expire: handing the work out again would run the
        // same episode twice, and the holder's commit would land on top of the second one's.
        foreach (var entry in _leasedInstances.Where(e => e.LeaseExpiresAt <= now && !e.Committing).ToList())
        {
            Log.LeaseExpired(_logger, entry.InstanceId);
            ReleaseLease(entry);
            MakeReady(entry, now);
        }

        foreach (var activity in _leasedActivities.Values.Where(a => a.LeaseExpiresAt <= now).ToList())
        {
            Log.LeaseExpired(_logger, activity.Activity.InstanceId);
            _leasedActivities.Remove(activity.Activity.Sequence);
            activity.LeaseToken = 0;
            _readyActivities.Enqueue(activity);
        }
    }

    private long TakeLease(InstanceEntry entry, TimeSpan lease, DateTime now)
    {
        entry.LeaseToken = ++_leaseCounter;
        entry.LeaseExpiresAt = now + lease;
        entry.RetryAt = null;
        _leasedInstances.Add(entry);
        return entry.LeaseToken;
    }

    private void ReleaseLease(InstanceEntry entry)
    {
        entry.LeaseToken = 0;
        entry.Committing = false;
        _leasedInstances.Remove(entry);
    }

    private InstanceEntry GetLeasedEntry(string instanceId, long token)
    {
        if (!_instances.TryGetValue(instanceId, out var entry) || entry.LeaseToken != token || entry.Removed)
        {
            throw new LeaseLostException(instanceId);
        }

        return entry;
    }

    /// <summary>Wakes whoever waits for a change of this instance, and with a new status whoever waits for that.</summary>
    private void NotifyChanged(string instanceId, OrchestrationMetadata? statusChangedTo)
    {
        if (_changeWaiters.Remove(instanceId, out var waiter))
        {
            waiter.TrySetResult();
        }

        if (statusChangedTo is not null && _statusWaiters.Remove(instanceId, out var statusWaiter))
        {
            statusWaiter.TrySetResult(statusChangedTo);
        }
    }

    /// <summary>Commits a clean-up batch in the background: deletions of rows nothing will ever consume.</summary>
    private void CommitCleanup(StoreBatch batch)
    {
        if (batch.IsEmpty)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await _backend.CommitAsync(batch, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Left-over rows are found and removed again at the next start.
                Log.CleanupFailed(_logger, ex);
            }
        });
    }

    /// <inheritdoc />
    public Task WaitForWorkAsync(WorkItemKind kind, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        TimeSpan wait;
        Task signal;
        var work = _signals[(int)kind];
        lock (_sync)
        {
            signal = work.GetWaitTask();
            var now = Now;
            wait = maxWait;
            if (kind != WorkItemKind.Activity && _timers.TryPeek(out _, out var due))
            {
                wait = Min(wait, due - now);
            }

            if (kind == WorkItemKind.Activity && _delayedActivities.TryPeek(out _, out var adue))
            {
                wait = Min(wait, adue - now);
            }

            if (_leasedInstances.Count > 0 || _leasedActivities.Count > 0)
            {
                wait = Min(wait, _nextLeaseCheck - now);
            }

            if (wait <= TimeSpan.Zero || signal.IsCompleted)
            {
                return Task.CompletedTask;
            }

            work.Sleepers++;
        }

        return WaitAsync(signal, wait, cancellationToken);

        async Task WaitAsync(Task signalTask, TimeSpan timeout, CancellationToken ct)
        {
            try
            {
                await signalTask.WaitAsync(timeout, _time, ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Time to look at timers and leases again.
            }
            finally
            {
                // A dispatcher that stopped (cancelled) or woke no longer counts as one that takes new work at once.
                lock (_sync)
                {
                    work.Sleepers--;
                }
            }
        }

        static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
    }

    /// <inheritdoc />
    public bool RenewLease(object workItem, TimeSpan lease)
    {
        lock (_sync)
        {
            var now = Now;
            switch (workItem)
            {
                case OrchestrationWorkItem o when _instances.TryGetValue(o.InstanceId, out var e) && e.LeaseToken == o.LeaseToken:
                    e.LeaseExpiresAt = now + lease;
                    return true;
                case EntityWorkItem w when _instances.TryGetValue(w.InstanceId, out var e) && e.LeaseToken == w.LeaseToken:
                    e.LeaseExpiresAt = now + lease;
                    return true;
                case ActivityWorkItem a when _leasedActivities.TryGetValue(a.Activity.Sequence, out var entry) && entry.LeaseToken == a.LeaseToken:
                    entry.LeaseExpiresAt = now + lease;
                    return true;
                default:
                    return false;
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var waiter in _changeWaiters.Values)
            {
                waiter.TrySetCanceled();
            }

            _changeWaiters.Clear();
            foreach (var waiter in _statusWaiters.Values)
            {
                waiter.TrySetCanceled();
            }

            _statusWaiters.Clear();
            foreach (var entry in _instances.Values)
            {
                entry.UnwrittenStart?.Written.TrySetException(new ObjectDisposedException(nameof(OrchestrationStore), "The store closed before the start was written."));
            }
        }

        EngineTelemetry.Untrack(this);
        await _backend.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>An instance (orchestration or entity) the store tracks in memory: every one that is not terminal.</summary>
    private sealed class InstanceEntry(string instanceId)
    {
        public string InstanceId { get; } = instanceId;

        /// <summary>The orchestration's row; null for an entity.</summary>
        public OrchestrationMetadata? Metadata { get; set; }

        /// <summary>The entity's record; null for an orchestration.</summary>
        public EntityRecord? Entity { get; set; }

        public bool IsEntity => Entity is not null;

        /// <summary>The current execution's committed history; null until first needed after a restart.</summary>
        public List<HistoryEvent>? History { get; set; }

        public List<PendingMessage> Inbox { get; } = [];

        public long LeaseToken { get; set; }

        public DateTime LeaseExpiresAt { get; set; }

        public DateTime? RetryAt { get; set; }

        public bool Queued { get; set; }

        /// <summary>Set while the lease holder's commit is in flight; the lease cannot expire until it returns.</summary>
        public bool Committing { get; set; }

        /// <summary>Set while the creating commit is in flight; the entry is not visible as an instance until then.</summary>
        public TaskCompletionSource? Creating { get; set; }

        /// <summary>Set for a client's start that its first episode's checkpoint writes (with <see cref="Creating"/>).</summary>
        public UnwrittenStart? UnwrittenStart { get; set; }

        /// <summary>The id is taken while the rows are written; no work is handed out for it (an unwritten start's is).</summary>
        public bool IsReserved => Creating is not null && UnwrittenStart is null;

        /// <summary>The instance finished (or was deleted) and left the store's memory.</summary>
        public bool Removed { get; set; }
    }

    /// <summary>
    /// A client's start not yet written: the first episode's checkpoint writes the instance, and completes
    /// <see cref="Written"/> (or fails it, and the instance is gone).
    /// </summary>
    /// <param name="Replaces">The terminal instance of the same id that the checkpoint deletes first, if any.</param>
    private sealed record UnwrittenStart(List<string> Replaces)
    {
        public TaskCompletionSource Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>A message in an inbox. A volatile one (an activity result) has no inbox row: its activity row is deleted when it is consumed.</summary>
    private sealed record PendingMessage(long Sequence, HistoryEvent Event, DateTime? VisibleAt, bool Persisted, long ActivitySequence);

    private sealed class ActivityEntry(StoredActivity activity)
    {
        public StoredActivity Activity { get; } = activity;

        public long LeaseToken { get; set; }

        public DateTime LeaseExpiresAt { get; set; }
    }

    /// <summary>A level-triggered wake-up: set when work arrives, consumed by the next wait.</summary>
    private sealed class WorkSignal
    {
        private TaskCompletionSource _source = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Dispatchers sleeping on this signal (kept under the store's lock).</summary>
        public int Sleepers { get; set; }

        /// <summary>True while a dispatcher sleeps on this signal: work made ready now is taken at once.</summary>
        public bool HasWaiter => Sleepers > 0;

        /// <summary>The task to wait on; a signal set since the last wait is returned completed, and consumed.</summary>
        public Task GetWaitTask()
        {
            var task = _source.Task;
            if (task.IsCompleted)
            {
                _source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            return task;
        }

        public void Set() => _source.TrySetResult();
    }
}
