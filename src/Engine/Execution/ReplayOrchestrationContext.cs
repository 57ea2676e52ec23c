using System.Security.Cryptography;
using System.Text;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;
using KataWorkflows.Engine.Sdk;
using KataWorkflows.Engine.Serialization;
using Microsoft.DurableTask.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataWorkflows.Engine.Execution;

#pragma warning disable CA2007 // Orchestration continuations must stay on the replay synchronization context.

/// <summary>
/// The orchestration context of one episode. It feeds history events to the orchestration code one at a time,
/// matches every action the code produces against the event history recorded for it, and collects the actions
/// that are new.
/// </summary>
internal sealed partial class ReplayOrchestrationContext : TaskOrchestrationContext
{
    private static readonly Guid GuidNamespace = new("9e952958-5e33-4daf-827f-2fa12937b875");

    private readonly DurableTaskRegistry _registry;
    private readonly IServiceProvider _services;
    private readonly DataConverter _converter;
    private readonly ILoggerFactory _loggerFactory;
    private readonly EntityFeature _entities;
    private readonly ReplaySynchronizationContext _sync = new();

    // Actions produced by the code and not yet matched with a recorded event, in the order produced.
    private readonly Dictionary<int, OrchestratorAction> _pendingActions = [];
    private readonly List<OrchestratorAction> _actionOrder = [];

    // Tasks the code awaits, keyed by the sequence number of the action that started them.
    private readonly Dictionary<int, OpenTask> _openTasks = [];
    private readonly Dictionary<string, Queue<EventWaiter>> _eventWaiters = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<HistoryEvent> _bufferedEvents = [];
    private readonly List<HistoryEvent> _deferredWhileSuspended = [];

    private string _instanceId;
    private string _name = string.Empty;
    private string? _executionId;
    private DateTime _now;
    private bool _isReplaying;
    private int _nextSequence;
    private int _guidCounter;
    private int _eventIndex;
    private bool _suspended;
    private string? _customStatus;
    private Task<object?>? _orchestratorTask;
    private (string? Input, bool PreserveEvents)? _continueAsNew;
    private OrchestratorAction? _completion;
    private int _completionEventIndex = -1;
    private NonDeterministicOrchestrationException? _divergence;
    private bool _replayOnly;

    public ReplayOrchestrationContext(
        string instanceId, DurableTaskRegistry registry, IServiceProvider services, DataConverter converter, ILoggerFactory loggerFactory)
    {
        _instanceId = instanceId;
        _registry = registry;
        _services = services;
        _converter = converter;
        _loggerFactory = loggerFactory;
        _entities = new EntityFeature(this);
    }

    public override string InstanceId => _instanceId;

    public override string Name => _name;

    public override DateTime CurrentUtcDateTime => _now;

    public override bool IsReplaying => _isReplaying;

    public override TaskOrchestrationEntityFeature Entities => _entities;

    /// <summary>Events fed to the code so far, over every episode this context ran.</summary>
    public int EventsSeen { get; private set; }

    /// <summary>The last event fed to the code (null before the first).</summary>
    public HistoryEvent? LastEventSeen { get; private set; }

    /// <summary>
    /// True while the context can run the next episode where this one left off: the code is waiting, and it neither
    /// finished nor was stopped by an error of its own.
    /// </summary>
    public bool CanContinue => _completion is null && _divergence is null && !_replayOnly;

    public OrchestratorResponse Run(IReadOnlyList<HistoryEvent> pastEvents, IReadOnlyList<HistoryEvent> newEvents) => Run(pastEvents, 0, newEvents);

    /// <summary>
    /// Runs an episode on a context that already saw the first <paramref name="from"/> events of
    /// <paramref name="pastEvents"/> (an extended session): the rest of the past events, which the previous episode's
    /// checkpoint recorded, are replayed, then the new ones run. Without a session, <paramref name="from"/> is 0.
    /// </summary>
    public OrchestratorResponse Run(IReadOnlyList<HistoryEvent> pastEvents, int from, IReadOnlyList<HistoryEvent> newEvents)
    {
        var previous = SynchronizationContext.Current;

        // One synchronization context for the life of the code: the continuations it awaits were posted to it.
        SynchronizationContext.SetSynchronizationContext(_sync);
        try
        {
            // The episode's actions are those still unmatched when it ends: the last episode's were recorded.
            _isReplaying = true;
            var index = from;
            for (var i = from; i < pastEvents.Count; i++)
            {
                if (!Feed(pastEvents[i], index++))
                {
                    break;
                }
            }

            _isReplaying = false;
            if (_completion is null)
            {
                foreach (var e in newEvents)
                {
                    if (!Feed(e, index++))
                    {
                        break;
                    }
                }
            }
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        return BuildResponse();
    }

    private bool Feed(HistoryEvent e, int index)
    {
        EventsSeen = index + 1;
        LastEventSeen = e;
        return Step(e, index, _sync);
    }

    /// <summary>
    /// Replays a recorded history against the current code without producing anything, and reports the first
    /// place where the code does something other than what was recorded.
    /// </summary>
    public ReplayResult Replay(IReadOnlyList<HistoryEvent> history)
    {
        _replayOnly = true;
        Run(history, []);
        if (_divergence is { } d)
        {
            return ReplayResult.Diverged(d.EventIndex, d.Recorded, d.Produced);
        }

        var recordedIndex = -1;
        for (var i = 0; i < history.Count; i++)
        {
            if (history[i].ExecutionCompleted is not null)
            {
                recordedIndex = i;
                break;
            }
        }

        var produced = _completion?.CompleteOrchestration;
        if (produced is null && recordedIndex < 0)
        {
            return ReplayResult.Deterministic(history.Count);
        }

        if (produced is null)
        {
            var recorded = history[recordedIndex].ExecutionCompleted.OrchestrationStatus;
            return ReplayResult.Diverged(recordedIndex, $"ExecutionCompleted ({Status(recorded)})", "no completion: the code is still waiting");
        }

        var status = Status(produced.OrchestrationStatus);
        if (recordedIndex < 0)
        {
            return ReplayResult.Diverged(_completionEventIndex, Describe(history[_completionEventIndex]), $"CompleteOrchestration ({status})");
        }

        // The completion must come in the episode that recorded it: no episode may end in between.
        for (var i = _completionEventIndex; i < recordedIndex; i++)
        {
            if (history[i].OrchestratorCompleted is not null)
            {
                return ReplayResult.Diverged(_completionEventIndex, Describe(history[_completionEventIndex]), $"CompleteOrchestration ({status})");
            }
        }

        var recordedStatus = Status(history[recordedIndex].ExecutionCompleted.OrchestrationStatus);
        return recordedStatus == status
            ? ReplayResult.Deterministic(history.Count)
            : ReplayResult.Diverged(recordedIndex, $"ExecutionCompleted ({recordedStatus})", $"CompleteOrchestration ({status})");

        static string Status(OrchestrationStatus s) => s.FromProto().ToString();
    }

    private bool Step(HistoryEvent e, int index, ReplaySynchronizationContext sync)
    {
        _eventIndex = index;
        try
        {
            ProcessEvent(e);
            sync.Drain();
            CheckCompletion();
        }
        catch (NonDeterministicOrchestrationException ex)
        {
            if (_replayOnly)
            {
                _divergence = ex;
                return false;
            }

            Fail(FailureDetails.FromException(ex) with { StackTrace = null });
        }

        return _completion is null;
    }

    private void ProcessEvent(HistoryEvent e)
    {
        if (_suspended && IsDeferrableMessage(e))
        {
            _deferredWhileSuspended.Add(e);
            return;
        }

        switch (e.EventTypeCase)
        {
            case HistoryEvent.EventTypeOneofCase.OrchestratorStarted:
                _now = e.Timestamp?.ToDateTime() ?? _now;
                break;
            case HistoryEvent.EventTypeOneofCase.ExecutionStarted:
                Start(e.ExecutionStarted);
                break;
            case HistoryEvent.EventTypeOneofCase.ExecutionTerminated:
                Complete(OrchestrationStatus.Terminated, e.ExecutionTerminated.Input, failure: null);
                break;
            case HistoryEvent.EventTypeOneofCase.TaskScheduled:
                Match(e, OrchestratorAction.OrchestratorActionTypeOneofCase.ScheduleTask, e.TaskScheduled.Name);
                break;
            case HistoryEvent.EventTypeOneofCase.TaskCompleted:
                CompleteTask(e.TaskCompleted.TaskScheduledId, e.TaskCompleted.Result, failure: null);
                break;
            case HistoryEvent.EventTypeOneofCase.TaskFailed:
                CompleteTask(e.TaskFailed.TaskScheduledId, null, e.TaskFailed.FailureDetails);
                break;
            case HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceCreated:
                Match(e, OrchestratorAction.OrchestratorActionTypeOneofCase.CreateSubOrchestration, e.SubOrchestrationInstanceCreated.Name);
                break;
            case HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceCompleted:
                CompleteTask(e.SubOrchestrationInstanceCompleted.TaskScheduledId, e.SubOrchestrationInstanceCompleted.Result, failure: null);
                break;
            case HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceFailed:
                CompleteTask(e.SubOrchestrationInstanceFailed.TaskScheduledId, null, e.SubOrchestrationInstanceFailed.FailureDetails);
                break;
            case HistoryEvent.EventTypeOneofCase.TimerCreated:
                Match(e, OrchestratorAction.OrchestratorActionTypeOneofCase.CreateTimer, name: null);
                break;
            case HistoryEvent.EventTypeOneofCase.TimerFired:
                CompleteTask(e.TimerFired.TimerId, null, failure: null);
                break;
            case HistoryEvent.EventTypeOneofCase.OrchestratorCompleted:
                if (_isReplaying && _pendingActions.Count > 0)
                {
                    // Every action of a recorded episode was recorded before the episode's end; one that was not
                    // is new code running where old code did something else.
                    throw new NonDeterministicOrchestrationException(
                        _eventIndex, "the end of an episode (OrchestratorCompleted)", Describe(FirstPending()));
                }

                break;
            case HistoryEvent.EventTypeOneofCase.EventSent:
                Match(e, OrchestratorAction.OrchestratorActionTypeOneofCase.SendEvent, e.EventSent.Name);
                break;
            case HistoryEvent.EventTypeOneofCase.EventRaised:
                DeliverEvent(e);
                break;
            case HistoryEvent.EventTypeOneofCase.ExecutionSuspended:
                _suspended = true;
                break;
            case HistoryEvent.EventTypeOneofCase.ExecutionResumed:
                _suspended = false;
                var deferred = _deferredWhileSuspended.ToArray();
                _deferredWhileSuspended.Clear();
                foreach (var d in deferred)
                {
                    ProcessEvent(d);
                }

                break;
            case HistoryEvent.EventTypeOneofCase.EntityOperationSignaled:
            case HistoryEvent.EventTypeOneofCase.EntityOperationCalled:
            case HistoryEvent.EventTypeOneofCase.EntityLockRequested:
            case HistoryEvent.EventTypeOneofCase.EntityUnlockSent:
                Match(e, OrchestratorAction.OrchestratorActionTypeOneofCase.SendEntityMessage, EntityMessageName(e));
                break;
            case HistoryEvent.EventTypeOneofCase.EntityOperationCompleted:
                _entities.OnOperationCompleted(e.EntityOperationCompleted.RequestId, e.EntityOperationCompleted.Output, failure: null);
                break;
            case HistoryEvent.EventTypeOneofCase.EntityOperationFailed:
                _entities.OnOperationCompleted(e.EntityOperationFailed.RequestId, null, e.EntityOperationFailed.FailureDetails);
                break;
            case HistoryEvent.EventTypeOneofCase.EntityLockGranted:
                _entities.OnLockGranted(e.EntityLockGranted.CriticalSectionId);
                break;
            default:
                // ExecutionCompleted, GenericEvent, HistoryState, ContinueAsNew, ExecutionRewound: nothing to replay.
                break;
        }
    }

    private static bool IsDeferrableMessage(HistoryEvent e) => e.EventTypeCase is
        HistoryEvent.EventTypeOneofCase.TaskCompleted or HistoryEvent.EventTypeOneofCase.TaskFailed
        or HistoryEvent.EventTypeOneofCase.TimerFired or HistoryEvent.EventTypeOneofCase.EventRaised
        or HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceCompleted
        or HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceFailed
        or HistoryEvent.EventTypeOneofCase.EntityOperationCompleted or HistoryEvent.EventTypeOneofCase.EntityOperationFailed
        or HistoryEvent.EventTypeOneofCase.EntityLockGranted;

    private void Start(ExecutionStartedEvent started)
    {
        _name = started.Name;
        _instanceId = started.OrchestrationInstance?.InstanceId is { Length: > 0 } id ? id : _instanceId;
        _executionId = started.OrchestrationInstance?.ExecutionId;
        if (!_registry.TryCreateOrchestrator(started.Name, _services, out var orchestrator))
        {
            Fail(new FailureDetails(
                "OrchestratorNotFound",
                $"No orchestrator named '{started.Name}' is registered with this worker.",
                IsNonRetriable: true));
            return;
        }

        object? input;
        try
        {
            input = _converter.Deserialize(started.Input, orchestrator!.InputType);
        }
        catch (PayloadSerializationException ex)
        {
            Fail(new FailureDetails(
                ex.GetType().FullName!, $"The input of orchestration '{started.Name}' cannot be read: {ex.Message}", IsNonRetriable: true));
            return;
        }

        try
        {
            _orchestratorTask = orchestrator.RunAsync(this, input);
        }
        catch (Exception ex) when (ex is not NonDeterministicOrchestrationException)
        {
            // An orchestrator that throws before its first await.
            _orchestratorTask = Task.FromException<object?>(ex);
        }
    }

    private void CheckCompletion()
    {
        if (_completion is not null || _orchestratorTask is not { IsCompleted: true } task)
        {
            return;
        }

        if (task.IsFaulted)
        {
            var ex = task.Exception!.InnerExceptions.Count == 1 ? task.Exception.InnerException! : task.Exception;
            Fail(FailureDetails.FromException(ex));
        }
        else if (task.IsCanceled)
        {
            Fail(new FailureDetails(typeof(TaskCanceledException).FullName!, "The orchestration awaited a task that was canceled."));
        }
        else if (_continueAsNew is { } next)
        {
            var action = Complete(OrchestrationStatus.ContinuedAsNew, next.Input, failure: null);
            if (next.PreserveEvents)
            {
                action.CompleteOrchestration.CarryoverEvents.AddRange(_bufferedEvents);
            }
        }
        else
        {
            string? output;
            try
            {
                output = _converter.Serialize(task.Result);
            }
            catch (PayloadSerializationException ex)
            {
                Fail(FailureDetails.FromException(ex));
                return;
            }

            Complete(OrchestrationStatus.Completed, output, failure: null);
        }
    }

    private OrchestratorAction Complete(OrchestrationStatus status, string? result, FailureDetails? failure)
    {
        _entities.ReleaseAllLocks();
        var complete = new CompleteOrchestrationAction { OrchestrationStatus = status, Result = result };
        if (failure is not null)
        {
            complete.FailureDetails = failure.ToProto();
        }

        var action = new OrchestratorAction { Id = _nextSequence++, CompleteOrchestration = complete };
        _completion = action;
        _completionEventIndex = _eventIndex;
        return action;
    }

    private void Fail(FailureDetails failure)
    {
        // A failed orchestration only records its failure and the release of its locks. Releases already queued in
        // this episode (a critical section disposed while the exception unwound) must still go out: the section is
        // closed, so the completion below has nothing left to release for it.
        var releases = _actionOrder.FindAll(a => _pendingActions.ContainsKey(a.Id) && a.SendEntityMessage?.EntityUnlockSent is not null);
        _pendingActions.Clear();
        _actionOrder.Clear();
        foreach (var release in releases)
        {
            _pendingActions.Add(release.Id, release);
            _actionOrder.Add(release);
        }

        Complete(OrchestrationStatus.Failed, null, failure);
    }

    private OrchestratorResponse BuildResponse()
    {
        var response = new OrchestratorResponse { InstanceId = _instanceId, CustomStatus = _customStatus };
        foreach (var action in _actionOrder)
        {
            if (_pendingActions.ContainsKey(action.Id))
            {
                response.Actions.Add(action);
            }
        }

        if (_completion is not null)
        {
            response.Actions.Add(_completion);
        }

        return response;
    }

    private int AddAction(OrchestratorAction action)
    {
        if (_completion is not null)
        {
            throw new InvalidOperationException("The orchestration has already completed; it cannot schedule more work.");
        }

        action.Id = _nextSequence++;
        _pendingActions.Add(action.Id, action);
        _actionOrder.Add(action);
        return action.Id;
    }

    private void Match(HistoryEvent recorded, OrchestratorAction.OrchestratorActionTypeOneofCase kind, string? name)
    {
        if (!_pendingActions.Remove(recorded.EventId, out var action))
        {
            throw new NonDeterministicOrchestrationException(
                _eventIndex, Describe(recorded), $"no action #{recorded.EventId}");
        }

        var actionName = ActionName(action);
        if (action.OrchestratorActionTypeCase != kind || !string.Equals(actionName, name, StringComparison.OrdinalIgnoreCase))
        {
            throw new NonDeterministicOrchestrationException(_eventIndex, Describe(recorded), Describe(action));
        }
    }

    private OrchestratorAction FirstPending() => _actionOrder.First(a => _pendingActions.ContainsKey(a.Id));

    private static string? ActionName(OrchestratorAction action) => action.OrchestratorActionTypeCase switch
    {
        OrchestratorAction.OrchestratorActionTypeOneofCase.ScheduleTask => action.ScheduleTask.Name,
        OrchestratorAction.OrchestratorActionTypeOneofCase.CreateSubOrchestration => action.CreateSubOrchestration.Name,
        OrchestratorAction.OrchestratorActionTypeOneofCase.SendEvent => action.SendEvent.Name,
        OrchestratorAction.OrchestratorActionTypeOneofCase.SendEntityMessage => action.SendEntityMessage.EntityMessageTypeCase switch
        {
            SendEntityMessageAction.EntityMessageTypeOneofCase.EntityOperationSignaled => "signal:" + action.SendEntityMessage.EntityOperationSignaled.Operation,
            SendEntityMessageAction.EntityMessageTypeOneofCase.EntityOperationCalled => "call:" + action.SendEntityMessage.EntityOperationCalled.Operation,
            SendEntityMessageAction.EntityMessageTypeOneofCase.EntityLockRequested => "lock",
            SendEntityMessageAction.EntityMessageTypeOneofCase.EntityUnlockSent => "unlock",
            _ => null,
        },
        _ => null,
    };

    private static string? EntityMessageName(HistoryEvent e) => e.EventTypeCase switch
    {
        HistoryEvent.EventTypeOneofCase.EntityOperationSignaled => "signal:" + e.EntityOperationSignaled.Operation,
        HistoryEvent.EventTypeOneofCase.EntityOperationCalled => "call:" + e.EntityOperationCalled.Operation,
        HistoryEvent.EventTypeOneofCase.EntityLockRequested => "lock",
        HistoryEvent.EventTypeOneofCase.EntityUnlockSent => "unlock",
        _ => null,
    };

    /// <summary>Names a recorded event for a non-determinism message.</summary>
    internal static string Describe(HistoryEvent e)
    {
        var name = e.EventTypeCase switch
        {
            HistoryEvent.EventTypeOneofCase.TaskScheduled => e.TaskScheduled.Name,
            HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceCreated => e.SubOrchestrationInstanceCreated.Name,
            HistoryEvent.EventTypeOneofCase.EventSent => e.EventSent.Name,
            _ => EntityMessageName(e),
        };
        return name is null ? $"{e.EventTypeCase} #{e.EventId}" : $"{e.EventTypeCase} #{e.EventId} '{name}'";
    }

    /// <summary>Names an action for a non-determinism message.</summary>
    internal static string Describe(OrchestratorAction action)
    {
        var name = ActionName(action);
        return name is null
            ? $"{action.OrchestratorActionTypeCase} #{action.Id}"
            : $"{action.OrchestratorActionTypeCase} #{action.Id} '{name}'";
    }

    private void CompleteTask(int taskId, string? result, TaskFailureDetails? failure)
    {
        // A task nobody awaits any more (a timer whose wait was cancelled) completes into nothing.
        if (_openTasks.Remove(taskId, out var open))
        {
            if (failure is null)
            {
                open.Source.TrySetResult(result);
            }
            else
            {
                open.Source.TrySetException(new TaskFailedException(open.Name, taskId, FailureDetails.FromProto(failure)!));
            }
        }
    }

    private Task<string?> OpenTaskFor(int id, string name)
    {
        var source = new TaskCompletionSource<string?>();
        _openTasks.Add(id, new OpenTask(name, source));
        return source.Task;
    }

    public override async Task<TResult> CallActivityAsync<TResult>(string name, object? input = null, TaskOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var json = _converter.Serialize(input);
        var retry = options?.Retry;
        var firstAttempt = _now;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var id = AddAction(new OrchestratorAction { ScheduleTask = new ScheduleTaskAction { Name = name, Input = json } });
                var result = await OpenTaskFor(id, name);
                return _converter.Deserialize<TResult>(result)!;
            }
            catch (TaskFailedException ex) when (retry is not null && CanRetry(retry, attempt, firstAttempt, ex.FailureDetails))
            {
                await CreateTimer(_now.Add(retry.GetDelay(attempt)), CancellationToken.None);
            }
        }
    }

    private bool CanRetry(RetryPolicy retry, int attempt, DateTime firstAttempt, FailureDetails failure) =>
        attempt < retry.MaxNumberOfAttempts
        && retry.ShouldRetry(failure)
        && (retry.RetryTimeout == Timeout.InfiniteTimeSpan || _now - firstAttempt < retry.RetryTimeout);

    public override Task CreateTimer(DateTime fireAt, CancellationToken cancellationToken)
    {
        var utc = fireAt.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(fireAt, DateTimeKind.Utc) : fireAt.ToUniversalTime();
        var id = AddAction(new OrchestratorAction { CreateTimer = new CreateTimerAction { FireAt = Timestamp.FromDateTime(utc) } });
        var task = OpenTaskFor(id, "timer");
        if (cancellationToken.CanBeCanceled)
        {
            var open = _openTasks[id];
            cancellationToken.Register(() =>
            {
                _openTasks.Remove(id);
                open.Source.TrySetCanceled(cancellationToken);
            });
        }

        return task;
    }

    public override Task<T> WaitForExternalEvent<T>(string eventName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(eventName);
        var buffered = _bufferedEvents.FindIndex(e => string.Equals(e.EventRaised.Name, eventName, StringComparison.OrdinalIgnoreCase));
        if (buffered >= 0)
        {
            var e = _bufferedEvents[buffered];
            _bufferedEvents.RemoveAt(buffered);
            return Task.FromResult(_converter.Deserialize<T>(e.EventRaised.Input)!);
        }

        var waiter = new EventWaiter(typeof(T));
        if (!_eventWaiters.TryGetValue(eventName, out var queue))
        {
            _eventWaiters[eventName] = queue = new Queue<EventWaiter>();
        }

        queue.Enqueue(waiter);
        if (cancellationToken.CanBeCanceled)
        {
            cancellationToken.Register(() => waiter.Source.TrySetCanceled(cancellationToken));
        }

        return Convert<T>(waiter.Source.Task);
    }

    private static async Task<T> Convert<T>(Task<object?> task) => (T)(await task)!;

    private void DeliverEvent(HistoryEvent e)
    {
        var name = e.EventRaised.Name;
        if (_eventWaiters.TryGetValue(name, out var queue))
        {
            while (queue.TryDequeue(out var waiter))
            {
                if (waiter.Source.Task.IsCompleted)
                {
                    continue; // cancelled (timed out) waits do not consume events
                }

                object? value;
                try
                {
                    value = _converter.Deserialize(e.EventRaised.Input, waiter.Type);
                }
                catch (PayloadSerializationException ex)
                {
                    waiter.Source.TrySetException(ex);
                    return;
                }

                waiter.Source.TrySetResult(value);
                return;
            }
        }

        _bufferedEvents.Add(e);
    }

    public override async Task<TResult> CallSubOrchestratorAsync<TResult>(string name, object? input = null, SubOrchestrationOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _entities.ThrowIfInCriticalSection("call a sub-orchestration");
        var json = _converter.Serialize(input);
        var childId = options?.InstanceId ?? NewGuid().ToString("N");
        var retry = options?.Retry;
        var firstAttempt = _now;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var id = AddAction(new OrchestratorAction
                {
                    CreateSubOrchestration = new CreateSubOrchestrationAction
                    {
                        InstanceId = attempt == 1 ? childId : $"{childId}:{attempt}",
                        Name = name,
                        Input = json,
                    },
                });
                var result = await OpenTaskFor(id, name);
                return _converter.Deserialize<TResult>(result)!;
            }
            catch (TaskFailedException ex) when (retry is not null && CanRetry(retry, attempt, firstAttempt, ex.FailureDetails))
            {
                await CreateTimer(_now.Add(retry.GetDelay(attempt)), CancellationToken.None);
            }
        }
    }

    public override void SendEvent(string instanceId, string eventName, object? eventData)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(instanceId);
        ArgumentException.ThrowIfNullOrWhiteSpace(eventName);
        AddAction(new OrchestratorAction
        {
            SendEvent = new SendEventAction
            {
                Instance = new OrchestrationInstance { InstanceId = instanceId },
                Name = eventName,
                Data = _converter.Serialize(eventData),
            },
        });
    }

    public override void ContinueAsNew(object? newInput = null, bool preserveUnprocessedEvents = false) =>
        _continueAsNew = (_converter.Serialize(newInput), preserveUnprocessedEvents);

    public override void SetCustomStatus(object? customStatus) => _customStatus = _converter.Serialize(customStatus);

    public override Guid NewGuid()
    {
        // A name-based (version 5) UUID over values that are the same on every replay.
        var name = $"{_instanceId}_{_now:o}_{_guidCounter++}";
        Span<byte> input = stackalloc byte[16 + Encoding.UTF8.GetByteCount(name)];
        GuidNamespace.TryWriteBytes(input, bigEndian: true, out _);
        Encoding.UTF8.GetBytes(name, input[16..]);
        Span<byte> hash = stackalloc byte[20];
#pragma warning disable CA5350 // SHA-1 is what RFC 4122 prescribes for version 5 UUIDs; this is not a security use.
        SHA1.HashData(input, hash);
#pragma warning restore CA5350
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true);
    }

    public override ILogger CreateReplaySafeLogger(string categoryName) =>
        new ReplaySafeLogger(this, _loggerFactory.CreateLogger(categoryName));

    private sealed record OpenTask(string Name, TaskCompletionSource<string?> Source);

    private sealed class EventWaiter(Type type)
    {
        public Type Type { get; } = type;

        public TaskCompletionSource<object?> Source { get; } = new();
    }

    private sealed class ReplaySafeLogger(ReplayOrchestrationContext context, ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => !context.IsReplaying && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!context.IsReplaying)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }

    internal static ILoggerFactory NoLogging => NullLoggerFactory.Instance;
}
