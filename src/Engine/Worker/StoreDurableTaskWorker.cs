using System.Collections.Concurrent;
using System.Diagnostics;
using KataWorkflows.Engine.Execution;
using KataWorkflows.Engine.Sdk;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SdkFactory = Microsoft.DurableTask.Worker.IDurableTaskFactory;
using SdkShimFactory = Microsoft.DurableTask.Worker.Shims.DurableTaskShimFactory;
using SdkWorker = Microsoft.DurableTask.Worker.Hosting.DurableTaskWorker;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;

namespace KataWorkflows.Engine.Worker;

/// <summary>
/// The Durable Task SDK's worker over the store, in process: the build target of
/// <c>AddDurableTaskWorker(b => b.AddTasks(...).UseStore())</c>. It runs orchestration episodes, activities and
/// entity batches from the store, each kind with its own concurrency limit, through the SDK's own pieces
/// (<see cref="SdkOrchestrationRunner"/> over DurableTask.Core's executor, with extended sessions;
/// <see cref="SdkActivityRunner"/>; <see cref="SdkEntityRunner"/>) and the task factory the SDK built from the
/// registry. Work is held under leases that are renewed while it runs; work a dead worker held goes to the next one
/// when its lease expires. On shutdown the worker stops taking work, cancels running activities (they run again
/// later) and waits for episodes in flight.
/// </summary>
public sealed class StoreDurableTaskWorker : SdkWorker
{
    // Entity calls one work item may run inside its episodes before it commits (each adds an episode to its checkpoint).
    private const int MaxInlineEntityCalls = 32;

    private readonly IOrchestrationStore _store;
    private readonly StoreWorkerOptions _options;
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SdkOrchestrationRunner _orchestrations;
    private readonly SdkActivityRunner _activities;
    private readonly SdkEntityRunner _entities;
    private readonly ConcurrentDictionary<string, SdkOrchestrationSession> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<object, byte> _inFlight = new();
    private readonly SemaphoreSlim[] _slots;
    private readonly CancellationTokenSource _activityShutdown = new();

    /// <summary>Creates a worker (the SDK's worker builder does, with the name and the factory it built from the registry).</summary>
    /// <param name="name">The worker builder's name; it selects the named options.</param>
    /// <param name="factory">The SDK's task factory over the registered orchestrators, activities and entities.</param>
    /// <param name="options">The worker options (named by <paramref name="name"/>).</param>
    /// <param name="store">The store the work comes from.</param>
    /// <param name="services">Services the tasks are created from; activities and entity batches get a scope each.</param>
    /// <param name="loggerFactory">
    /// Loggers of the worker and of the orchestrations' replay-safe loggers; none when the services have no logging
    /// (a bare <c>ServiceCollection</c> with <c>AddDurableTaskEngine</c>).
    /// </param>
    /// <param name="timeProvider">The clock; the system's by default.</param>
    public StoreDurableTaskWorker(
        string name,
        SdkFactory factory,
        IOptionsMonitor<StoreWorkerOptions> options,
        IOrchestrationStore store,
        IServiceProvider services,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null)
        : base(name, factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(options);
        loggerFactory ??= Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;
        _store = store;
        _services = services;
        _options = options.Get(name);
        _options.Validate();
        _time = timeProvider ?? TimeProvider.System;
        _logger = loggerFactory.CreateLogger<StoreDurableTaskWorker>();
        _slots =
        [
            new SemaphoreSlim(_options.MaxConcurrentOrchestrations, _options.MaxConcurrentOrchestrations),
            new SemaphoreSlim(_options.MaxConcurrentActivities, _options.MaxConcurrentActivities),
            new SemaphoreSlim(_options.MaxConcurrentEntities, _options.MaxConcurrentEntities),
        ];
        _orchestrations = new SdkOrchestrationRunner(factory, services, _options, loggerFactory);
        var shims = new SdkShimFactory(_options, loggerFactory);
        _activities = new SdkActivityRunner(factory, services, shims);
        _entities = new SdkEntityRunner(factory, services, shims);
    }

    /// <summary>
    /// A worker over a registry, for tools and tests that bring their own services (the host builds its worker with
    /// <c>AddDurableTaskWorker(b => b.AddTasks(...).UseStore())</c>, which passes the SDK's own factory): the tasks
    /// come from <see cref="SdkTaskFactory.FromRegistry"/> and are created from <paramref name="services"/>.
    /// </summary>
    public static StoreDurableTaskWorker Create(
        Microsoft.DurableTask.DurableTaskRegistry registry,
        StoreWorkerOptions options,
        IOrchestrationStore store,
        IServiceProvider services,
        ILoggerFactory loggerFactory,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(options);
        return new StoreDurableTaskWorker(
            Options.DefaultName, SdkTaskFactory.FromRegistry(registry), new FixedOptions(options), store, services, loggerFactory, timeProvider);
    }

    /// <summary>Orchestrations whose code waits in memory for their next episode (extended sessions).</summary>
    internal int Sessions => _sessions.Count;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await _store.StartAsync(stoppingToken).ConfigureAwait(false);
        Log.WorkerStarted(_logger, _options.WorkerId, _options.MaxConcurrentOrchestrations, _options.MaxConcurrentActivities, _options.MaxConcurrentEntities);
        using var registration = stoppingToken.Register(() => _activityShutdown.Cancel());
        var loops = new[]
        {
            DispatchAsync(WorkItemKind.Orchestration, stoppingToken),
            DispatchAsync(WorkItemKind.Activity, stoppingToken),
            DispatchAsync(WorkItemKind.Entity, stoppingToken),
            RenewLeasesAsync(stoppingToken),
        };
        await Task.WhenAll(loops).ConfigureAwait(false);
        Log.WorkerStopped(_logger, _options.WorkerId);
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        foreach (var slots in _slots)
        {
            slots.Dispose();
        }

        _activityShutdown.Dispose();
        base.Dispose();
    }

    private async Task DispatchAsync(WorkItemKind kind, CancellationToken stoppingToken)
    {
        var slots = _slots[(int)kind];
        var running = new ConcurrentDictionary<Task, byte>();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await slots.WaitAsync(stoppingToken).ConfigureAwait(false);
                object? item = kind switch
                {
                    WorkItemKind.Orchestration => await _store.TryLockOrchestrationAsync(_options.LeaseDuration, stoppingToken).ConfigureAwait(false),
                    WorkItemKind.Activity => await _store.TryLockActivityAsync(_options.LeaseDuration, stoppingToken).ConfigureAwait(false),
                    _ => await _store.TryLockEntityAsync(_options.LeaseDuration, stoppingToken).ConfigureAwait(false),
                };
                if (item is null)
                {
                    slots.Release();
                    await _store.WaitForWorkAsync(kind, _options.IdlePollInterval, stoppingToken).ConfigureAwait(false);
                    continue;
                }

                var task = Task.Run(() => RunAsync(item), CancellationToken.None);
                running[task] = 0;
                _ = task.ContinueWith(
                    t => running.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                Log.DispatchFailed(_logger, kind.ToString(), ex);
                try
                {
                    await Task.Delay(_options.ErrorBackoff, _time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        // Let what is in flight finish (activities were told to stop), within the shutdown timeout.
        var remaining = running.Keys.ToArray();
        if (remaining.Length > 0)
        {
            await Task.WhenAny(Task.WhenAll(remaining), Task.Delay(_options.ShutdownTimeout, _time, CancellationToken.None)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Runs a work item under the slot its dispatcher took for it, then the work it hands on, if any: the activity an
    /// episode scheduled, or the episode an activity's result made ready. Each comes with a slot of its own kind,
    /// taken only when one was free, and is taken from the store's queue like any work, but without waking the
    /// dispatcher for it: when one client's run goes step by step, every step then runs on the thread that made it
    /// ready, without two thread wake-ups per step. Once the worker is stopping, nothing more is handed on.
    /// </summary>
    private async Task RunAsync(object? item)
    {
        while (item is not null)
        {
            _inFlight[item] = 0;
            object? next = null;
            try
            {
                next = item switch
                {
                    OrchestrationWorkItem o => await ProcessOrchestrationAsync(o).ConfigureAwait(false),
                    ActivityWorkItem a => await ProcessActivityAsync(a).ConfigureAwait(false),
                    EntityWorkItem e => await ProcessEntityAsync(e).ConfigureAwait(false),
                    _ => null,
                };
            }
            finally
            {
                _inFlight.TryRemove(item, out _);
                _slots[(int)KindOf(item)].Release();
            }

            item = next;
        }
    }

    private static WorkItemKind KindOf(object item) => item switch
    {
        OrchestrationWorkItem => WorkItemKind.Orchestration,
        ActivityWorkItem => WorkItemKind.Activity,
        _ => WorkItemKind.Entity,
    };

    /// <summary>Takes the next work of a kind from the store under a slot already held; gives the slot back when there is none.</summary>
    private async Task<object?> TakeHandedOnAsync(WorkItemKind kind)
    {
        try
        {
            object? next = kind == WorkItemKind.Activity
                ? await _store.TryLockActivityAsync(_options.LeaseDuration, CancellationToken.None).ConfigureAwait(false)
                : await _store.TryLockOrchestrationAsync(_options.LeaseDuration, CancellationToken.None).ConfigureAwait(false);
            if (next is not null)
            {
                return next;
            }
        }
        catch (Exception ex)
        {
            // The work stays queued: the dispatcher finds it at its next look (at the latest after its idle poll).
            Log.DispatchFailed(_logger, kind.ToString(), ex);
        }

        _slots[(int)kind].Release();
        return null;
    }

    /// <summary>Runs an episode and commits it; returns the activity it scheduled when this task runs that next.</summary>
    private async Task<object?> ProcessOrchestrationAsync(OrchestrationWorkItem workItem)
    {
        var startedAt = Stopwatch.GetTimestamp();
        var entityLeases = new List<EntityWorkItem>();
        bool takesActivity = false, committed = false;
        try
        {
            var now = _time.GetUtcNow().UtcDateTime;

            // A run is traced when its client stored a trace context; the metadata says so without reading history.
            ExecutionStartedEvent? executionStarted = null;
            ActivityContext parentSpan = default, orchestrationSpan = default;
            var traced = workItem.Metadata.TraceParent is not null
                && EngineTelemetry.TryGetOrchestrationContext(executionStarted = EngineTelemetry.FindExecutionStarted(workItem), out parentSpan, out orchestrationSpan);
            var ranCode = false;
            if (!ActionApplier.TryTerminate(workItem, now, out var checkpoint))
            {
                var episode = ActionApplier.OpenEpisode(workItem, now);
                var response = Execute(workItem.InstanceId, workItem.PastEvents, episode);
                if (traced)
                {
                    EngineTelemetry.PropagateTo(response, workItem.InstanceId, orchestrationSpan);
                }

                checkpoint = ActionApplier.Apply(workItem, episode, response, now);
                checkpoint = await RunEntityCallsInlineAsync(workItem, checkpoint, now, entityLeases, traced, orchestrationSpan).ConfigureAwait(false);
                ranCode = true;
            }
            else
            {
                // Terminated without running its code: the code waiting in memory will never go on.
                _sessions.TryRemove(workItem.InstanceId, out _);
            }

            // One activity and a free activity slot: this task runs it next, so nobody needs to be woken for it.
            takesActivity = checkpoint!.Activities.Count == 1 && !checkpoint.Metadata.IsTerminal && !_activityShutdown.IsCancellationRequested
                && _slots[(int)WorkItemKind.Activity].Wait(0);
            checkpoint.CallerTakesActivity = takesActivity;
            await _store.CompleteOrchestrationAsync(workItem, checkpoint, CancellationToken.None).ConfigureAwait(false);
            committed = true;
            var status = checkpoint.Metadata.Status;
            EngineTelemetry.RecordEpisode(workItem.Metadata, checkpoint.Metadata, ranCode, Stopwatch.GetElapsedTime(startedAt));
            if (traced && (checkpoint.Metadata.IsTerminal || checkpoint.StartsNewExecution))
            {
                EngineTelemetry.EmitOrchestrationSpan(
                    executionStarted!, parentSpan, orchestrationSpan, EngineTelemetry.RunStartedAt(workItem, now), _time.GetUtcNow().UtcDateTime, checkpoint.Metadata, checkpoint.StartsNewExecution);
            }

            if (status == OrchestrationRuntimeStatus.Failed && checkpoint.Metadata.FailureDetails is { } failure)
            {
                Log.OrchestrationFailed(_logger, workItem.InstanceId, failure.ErrorType, failure.ErrorMessage);
            }

            Log.EpisodeCompleted(_logger, workItem.InstanceId, workItem.NewMessages.Count, checkpoint.NewHistory.Count, status.ToString());
        }
        catch (LeaseLostException)
        {
            Log.LeaseLost(_logger, workItem.InstanceId);
            _sessions.TryRemove(workItem.InstanceId, out _);
            await AbandonEntityLeasesAsync(entityLeases).ConfigureAwait(false);

            // The lease lost may have been an entity's: the episode runs again (a no-op when its own lease is gone).
            await _store.AbandonOrchestrationAsync(workItem, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.EpisodeAbandoned(_logger, workItem.InstanceId, ex);
            _sessions.TryRemove(workItem.InstanceId, out _);
            await AbandonEntityLeasesAsync(entityLeases).ConfigureAwait(false);
            await _store.AbandonOrchestrationAsync(workItem, _options.ErrorBackoff, CancellationToken.None).ConfigureAwait(false);
        }

        if (!takesActivity)
        {
            return null;
        }

        if (committed)
        {
            return await TakeHandedOnAsync(WorkItemKind.Activity).ConfigureAwait(false);
        }

        _slots[(int)WorkItemKind.Activity].Release();
        return null;
    }

    /// <summary>
    /// Runs the entity messages an episode sends that the entities would act on next anyway, right away, when the
    /// store lets it: a lock request whose entities are all free (the grant), and a call inside a critical section to
    /// an entity locked by this orchestration and idle (the operation). The answer is fed to the next episode at once,
    /// and everything is committed in one checkpoint. A lock or a call then costs neither the entity's commit nor an
    /// episode's, and the history reads as if the message had gone through the entity's inbox. Anything the store
    /// refuses goes out as a message, as before.
    /// </summary>
    private async Task<OrchestrationCheckpoint> RunEntityCallsInlineAsync(
        OrchestrationWorkItem workItem, OrchestrationCheckpoint checkpoint, DateTime now, List<EntityWorkItem> leases, bool traced, ActivityContext span)
    {
        var steps = 0;
        while (steps++ < MaxInlineEntityCalls && !checkpoint.StartsNewExecution
            && checkpoint.Metadata.Status == OrchestrationRuntimeStatus.Running && FindInlineMessage(checkpoint) is { } message)
        {
            var ran = message.Event.EntityLockRequested is { } request
                ? await GrantLockAsync(message, request, leases).ConfigureAwait(false)
                : await RunCallAsync(checkpoint, message, now, leases).ConfigureAwait(false);
            if (ran is null)
            {
                break;
            }

            var (answer, entities) = ran.Value;
            var following = new OrchestrationWorkItem(
                checkpoint.Metadata, [.. workItem.PastEvents, .. checkpoint.NewHistory], [answer], workItem.LeaseToken, []);
            var episode = ActionApplier.OpenEpisode(following, now);
            var executed = Execute(workItem.InstanceId, following.PastEvents, episode);
            if (traced)
            {
                EngineTelemetry.PropagateTo(executed, workItem.InstanceId, span);
            }

            var next = ActionApplier.Apply(following, episode, executed, now);
            if (next.StartsNewExecution)
            {
                // An episode that continues as new: the message goes through the entity's inbox instead, and is
                // acted on again there (entity operations are deterministic).
                await GiveBackAsync(checkpoint, entities, leases).ConfigureAwait(false);
                break;
            }

            checkpoint = Chain(checkpoint, message, next, entities);
        }

        return checkpoint;
    }

    /// <summary>Takes a critical section's lock for the episode; the grant, and the entities that now hold the lock.</summary>
    private async Task<(HistoryEvent Answer, List<InlineEntityCall> Entities)?> GrantLockAsync(
        OutboundMessage message, EntityLockRequestedEvent request, List<EntityWorkItem> leases)
    {
        var locked = await _store.TryLockEntitiesForSectionAsync(message.Event, _options.LeaseDuration, CancellationToken.None).ConfigureAwait(false);
        if (locked is null)
        {
            return null;
        }

        leases.AddRange(locked);
        var granted = new HistoryEvent
        {
            EventId = -1,
            Timestamp = Timestamp.FromDateTime(_time.GetUtcNow().UtcDateTime),
            EntityLockGranted = new EntityLockGrantedEvent { CriticalSectionId = request.CriticalSectionId },
        };
        return (granted, [.. locked.Select(e => new InlineEntityCall(e, new EntityBatchResult { EntityState = e.Entity.SerializedState }))]);
    }

    /// <summary>Runs an entity operation for the episode; its response, and the entity with the state it left.</summary>
    private async Task<(HistoryEvent Answer, List<InlineEntityCall> Entities)?> RunCallAsync(
        OrchestrationCheckpoint checkpoint, OutboundMessage call, DateTime now, List<EntityWorkItem> leases)
    {
        // A second call to an entity this work item already holds runs on the state the first one left.
        EntityWorkItem? entity;
        var held = checkpoint.EntityCalls.Find(c => c.WorkItem.InstanceId == call.TargetInstanceId);
        if (held is not null)
        {
            entity = new EntityWorkItem(held.WorkItem.Entity with { SerializedState = held.StateAfter }, [call.Event], held.WorkItem.LeaseToken, []);
        }
        else
        {
            entity = await _store.TryLockEntityForCallAsync(call.TargetInstanceId, call.Event, _options.LeaseDuration, CancellationToken.None).ConfigureAwait(false);
            if (entity is null)
            {
                return null;
            }

            leases.Add(entity);
        }

        var result = await ExecuteEntityAsync(entity).ConfigureAwait(false);
        var ran = new InlineEntityCall(entity, result);
        if (result.Actions.Count > 0)
        {
            // An operation that sends messages of its own goes through the entity's inbox instead.
            await GiveBackAsync(checkpoint, [ran], leases).ConfigureAwait(false);
            return null;
        }

        return (OrchestrationStore.ResponseTo(call.Event.EntityOperationCalled, result, 0, now), [ran]);
    }

    /// <summary>Gives back the leases this step took (not those of entities earlier steps of the checkpoint hold).</summary>
    private async Task GiveBackAsync(OrchestrationCheckpoint checkpoint, List<InlineEntityCall> entities, List<EntityWorkItem> leases)
    {
        foreach (var entity in entities)
        {
            if (!checkpoint.EntityCalls.Exists(c => c.WorkItem.InstanceId == entity.WorkItem.InstanceId))
            {
                var lease = leases.Find(l => l.InstanceId == entity.WorkItem.InstanceId && l.LeaseToken == entity.WorkItem.LeaseToken)!;
                leases.Remove(lease);
                await _store.AbandonEntityAsync(lease, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The entity message of a checkpoint that may be acted on inline: a lock request, or a call, that is the only
    /// message the checkpoint sends its entity.
    /// </summary>
    private static OutboundMessage? FindInlineMessage(OrchestrationCheckpoint checkpoint)
    {
        foreach (var message in checkpoint.OutboundMessages)
        {
            if ((message.Event.EntityOperationCalled is not null || message.Event.EntityLockRequested is not null) && message.VisibleAt is null
                && checkpoint.OutboundMessages.Count(m => m.TargetInstanceId == message.TargetInstanceId) == 1)
            {
                return message;
            }
        }

        return null;
    }

    /// <summary>Two episodes' checkpoints as one: the first without the message acted on inline, then the next.</summary>
    private static OrchestrationCheckpoint Chain(OrchestrationCheckpoint first, OutboundMessage inline, OrchestrationCheckpoint next, List<InlineEntityCall> entities)
    {
        var chained = new OrchestrationCheckpoint { Metadata = next.Metadata };
        chained.NewHistory.AddRange(first.NewHistory);
        chained.NewHistory.AddRange(next.NewHistory);
        chained.Activities.AddRange(first.Activities);
        chained.Activities.AddRange(next.Activities);
        chained.SelfMessages.AddRange(first.SelfMessages);
        chained.SelfMessages.AddRange(next.SelfMessages);
        chained.OutboundMessages.AddRange(first.OutboundMessages.Where(m => !ReferenceEquals(m, inline)));
        chained.OutboundMessages.AddRange(next.OutboundMessages);
        chained.NewChildren.AddRange(first.NewChildren);
        chained.NewChildren.AddRange(next.NewChildren);
        // One entry per entity: a later step's record holds what the earlier ones left.
        chained.EntityCalls.AddRange(first.EntityCalls.Where(c => !entities.Exists(e => e.WorkItem.InstanceId == c.WorkItem.InstanceId)));
        chained.EntityCalls.AddRange(entities);
        return chained;
    }

    private async Task AbandonEntityLeasesAsync(List<EntityWorkItem> leases)
    {
        foreach (var lease in leases)
        {
            await _store.AbandonEntityAsync(lease, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
        }

        leases.Clear();
    }

    /// <summary>Runs an activity and hands in its result; returns the episode it made ready when this task runs that next.</summary>
    private async Task<object?> ProcessActivityAsync(ActivityWorkItem workItem)
    {
        var token = _activityShutdown.Token;
        if (token.IsCancellationRequested)
        {
            // Locked as the worker began to stop (a dispatcher past its stop check, or the activity it just gave back
            // taken again): started, it would only be cancelled at once, after its side effects began. The next worker
            // runs it.
            await _store.AbandonActivityAsync(workItem, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            return null;
        }

        var request = workItem.Request;
        using var span = EngineTelemetry.StartActivitySpan(request);
        var started = Stopwatch.GetTimestamp();
        var result = new HistoryEvent { EventId = -1 };
        ActivityResponse response;
        var scope = _services.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            using (ActivityExecution.Enter(request.TaskId, token))
            {
                try
                {
                    response = await _activities.RunAsync(request, scope.ServiceProvider, CancellationToken.None).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // An activity that cannot even be created (a missing service...) fails its task, as one that throws does.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    response = new ActivityResponse { TaskId = request.TaskId, FailureDetails = FailureDetails.FromException(ex).ToProto() };
                }
            }
        }

        if (response.FailureDetails is { } failure)
        {
            if (token.IsCancellationRequested && IsCancellation(failure))
            {
                Log.ActivityInterrupted(_logger, workItem.InstanceId, request.Name, request.TaskId);
                await _store.AbandonActivityAsync(workItem, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
                return null;
            }

            span?.SetStatus(ActivityStatusCode.Error, failure.ErrorMessage);
            span?.SetTag(EngineTelemetry.ErrorTypeTag, failure.ErrorType);
            result.TaskFailed = new TaskFailedEvent { TaskScheduledId = request.TaskId, FailureDetails = failure };
        }
        else
        {
            result.TaskCompleted = new TaskCompletedEvent { TaskScheduledId = request.TaskId, Result = response.Result };
        }

        result.Timestamp = Timestamp.FromDateTime(_time.GetUtcNow().UtcDateTime);
        EngineTelemetry.RecordActivity(request.Name, Stopwatch.GetElapsedTime(started), result.TaskFailed is null);
        span?.Dispose(); // The span is the execution; it ends before the result can move the orchestration on.
        Log.ActivityFinished(_logger, workItem.InstanceId, request.Name, request.TaskId, result.TaskFailed is null ? "completed" : "failed");
        // A free orchestration slot: this task runs the episode the result makes ready, so nobody needs to be woken for it.
        var takesEpisode = !token.IsCancellationRequested && _slots[(int)WorkItemKind.Orchestration].Wait(0);
        workItem.CallerTakesNextEpisode = takesEpisode;
        try
        {
            await _store.CompleteActivityAsync(workItem, result, CancellationToken.None).ConfigureAwait(false);
        }
        catch (LeaseLostException)
        {
            Log.LeaseLost(_logger, workItem.InstanceId);
        }
        catch when (takesEpisode)
        {
            _slots[(int)WorkItemKind.Orchestration].Release();
            throw;
        }

        return takesEpisode ? await TakeHandedOnAsync(WorkItemKind.Orchestration).ConfigureAwait(false) : null;
    }

    private async Task<object?> ProcessEntityAsync(EntityWorkItem workItem)
    {
        try
        {
            var result = await ExecuteEntityAsync(workItem).ConfigureAwait(false);
            await _store.CompleteEntityAsync(workItem, result, CancellationToken.None).ConfigureAwait(false);
        }
        catch (LeaseLostException)
        {
            Log.LeaseLost(_logger, workItem.InstanceId);
        }
        catch (Exception ex)
        {
            Log.EntityBatchAbandoned(_logger, workItem.InstanceId, ex);
            await _store.AbandonEntityAsync(workItem, _options.ErrorBackoff, CancellationToken.None).ConfigureAwait(false);
        }

        return null;
    }

    /// <summary>Runs an entity batch with its own service scope (entities may take scoped services).</summary>
    private async Task<EntityBatchResult> ExecuteEntityAsync(EntityWorkItem workItem)
    {
        var request = new EntityRequest { InstanceId = workItem.InstanceId, EntityState = workItem.Entity.SerializedState };
        request.OperationRequests.AddRange(workItem.Operations);
        var scope = _services.CreateAsyncScope();
        await using var scopeDisposal = scope.ConfigureAwait(false);
        return await _entities.RunAsync(request, scope.ServiceProvider, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs an episode through the SDK: in the instance's extended session when there is one and the history goes on
    /// from what it saw, else by replaying the history. A replay that contradicts its history fails the orchestration
    /// with DurableTask.Core's non-determinism failure, whose message gets the index of the history event and what it
    /// recorded.
    /// </summary>
    private OrchestratorResponse Execute(string instanceId, IReadOnlyList<HistoryEvent> pastEvents, IReadOnlyList<HistoryEvent> newEvents)
    {
        SdkEpisodeResult result;
        if (_options.MaxOrchestrationSessions == 0)
        {
            result = _orchestrations.Run(pastEvents, newEvents);
        }
        else
        {
            // Taking the session out makes its use exclusive; it goes back only if the code can go on.
            var session = _sessions.TryRemove(instanceId, out var kept) ? kept : _orchestrations.CreateSession();
            result = session.RunEpisode(pastEvents, newEvents);
            if (!session.IsCompleted)
            {
                // Full: an arbitrary session makes room (its code replays its history at its next episode).
                if (_sessions.Count >= _options.MaxOrchestrationSessions && _sessions.Keys.FirstOrDefault() is { } evicted)
                {
                    _sessions.TryRemove(evicted, out _);
                }

                _sessions[instanceId] = session;
            }
        }

        if (result.NonDeterminism is { } divergence && result.Completion?.FailureDetails is { } failure)
        {
            failure.ErrorMessage = $"{failure.ErrorMessage} (history event #{divergence.EventIndex}: {divergence.RecordedDescription})";
            failure.IsNonRetriable = true;

            // Core hands back what the changed code scheduled before it diverged as well; none of it may run.
            result = result with { Actions = [.. result.Actions.Where(a => a.CompleteOrchestration is not null)] };
        }

        return result.ToResponse(instanceId);
    }

    private static bool IsCancellation(TaskFailureDetails failure) =>
        failure.ErrorType is "System.OperationCanceledException" or "System.Threading.Tasks.TaskCanceledException";

    private async Task RenewLeasesAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.LeaseDuration / 3, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                foreach (var item in _inFlight.Keys)
                {
                    _store.RenewLease(item, _options.LeaseDuration);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }

    private sealed class FixedOptions(StoreWorkerOptions options) : IOptionsMonitor<StoreWorkerOptions>
    {
        public StoreWorkerOptions CurrentValue => options;

        public StoreWorkerOptions Get(string? name) => options;

        public IDisposable? OnChange(Action<StoreWorkerOptions, string?> listener) => null;
    }
}
