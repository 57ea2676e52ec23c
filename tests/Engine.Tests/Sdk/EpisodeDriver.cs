using KataWorkflows.Engine.Sdk;
using Microsoft.DurableTask.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Dt = Microsoft.DurableTask;
using DtWorker = Microsoft.DurableTask.Worker;

namespace KataWorkflows.Engine.Tests.Sdk;

/// <summary>
/// Drives one orchestration episode by episode without a store: each episode's new events are written by the test,
/// and after it the driver commits what a store would (the new events, one event per action with the action's id,
/// <c>OrchestratorCompleted</c>), so the next episode replays it.
/// </summary>
internal sealed class EpisodeDriver
{
    private readonly SdkOrchestrationRunner _runner;
    private readonly SdkOrchestrationSession? _session;
    private readonly string _name;
    private readonly string? _input;
    private readonly string _instanceId;
    private DateTime _now = ProtocolEvents.T0;

    public EpisodeDriver(SdkOrchestrationRunner runner, string name, string? input, string instanceId = "i1", bool session = false)
    {
        _runner = runner;
        _name = name;
        _input = input;
        _instanceId = instanceId;
        _session = session ? runner.CreateSession() : null;
    }

    /// <summary>The committed history.</summary>
    public List<HistoryEvent> History { get; } = [];

    public DateTime Now => _now;

    public static SdkOrchestrationRunner Runner(Action<Dt.DurableTaskRegistry> register, Action<DtWorker.DurableTaskWorkerOptions>? configure = null)
    {
        var registry = new Dt.DurableTaskRegistry();
        register(registry);
        var options = new DtWorker.DurableTaskWorkerOptions { EnableEntitySupport = true };
        configure?.Invoke(options);
        return new SdkOrchestrationRunner(SdkTaskFactory.FromRegistry(registry), new ServiceCollection().BuildServiceProvider(), options);
    }

    /// <summary>The first episode: <c>[OrchestratorStarted, ExecutionStarted]</c>.</summary>
    public SdkEpisodeResult Start() => Episode([ProtocolEvents.ExecutionStarted(_name, _input, _instanceId)]);

    /// <summary>A later episode, <paramref name="advance"/> after the previous one, with these messages.</summary>
    public SdkEpisodeResult Next(TimeSpan advance, params HistoryEvent[] messages)
    {
        _now += advance;
        return Episode(messages);
    }

    public SdkEpisodeResult Next(params HistoryEvent[] messages) => Next(TimeSpan.FromSeconds(1), messages);

    /// <summary>Replays the committed history as it is, with no new event (an offline replay).</summary>
    public SdkEpisodeResult Replay() => _runner.Run(History, []);

    private SdkEpisodeResult Episode(HistoryEvent[] messages)
    {
        List<HistoryEvent> newEvents = [ProtocolEvents.OrchestratorStarted(_now), .. messages];
        var past = History.ToList();
        var result = _session is null ? _runner.Run(past, newEvents) : _session.RunEpisode(past, newEvents);
        History.AddRange(newEvents);
        foreach (var action in result.Actions)
        {
            if (Recorded(action) is { } recorded)
            {
                History.Add(recorded);
            }
        }

        History.Add(ProtocolEvents.OrchestratorCompleted(_now));
        return result;
    }

    /// <summary>The event a store records for an action (as the engine's action applier does).</summary>
    private HistoryEvent? Recorded(OrchestratorAction action)
    {
        var e = new HistoryEvent { EventId = action.Id, Timestamp = ProtocolEvents.At(_now) };
        switch (action.OrchestratorActionTypeCase)
        {
            case OrchestratorAction.OrchestratorActionTypeOneofCase.ScheduleTask:
                e.TaskScheduled = new TaskScheduledEvent { Name = action.ScheduleTask.Name, Version = action.ScheduleTask.Version, Input = action.ScheduleTask.Input };
                break;
            case OrchestratorAction.OrchestratorActionTypeOneofCase.CreateTimer:
                e.TimerCreated = new TimerCreatedEvent { FireAt = action.CreateTimer.FireAt };
                break;
            case OrchestratorAction.OrchestratorActionTypeOneofCase.CreateSubOrchestration:
                var sub = action.CreateSubOrchestration;
                e.SubOrchestrationInstanceCreated = new SubOrchestrationInstanceCreatedEvent { InstanceId = sub.InstanceId, Name = sub.Name, Version = sub.Version, Input = sub.Input };
                break;
            case OrchestratorAction.OrchestratorActionTypeOneofCase.SendEvent:
                e.EventSent = new EventSentEvent { InstanceId = action.SendEvent.Instance.InstanceId, Name = action.SendEvent.Name, Input = action.SendEvent.Data };
                break;
            case OrchestratorAction.OrchestratorActionTypeOneofCase.SendEntityMessage:
                var message = action.SendEntityMessage;
                switch (message.EntityMessageTypeCase)
                {
                    case SendEntityMessageAction.EntityMessageTypeOneofCase.EntityOperationSignaled:
                        e.EntityOperationSignaled = message.EntityOperationSignaled.Clone();
                        break;
                    case SendEntityMessageAction.EntityMessageTypeOneofCase.EntityOperationCalled:
                        e.EntityOperationCalled = message.EntityOperationCalled.Clone();
                        e.EntityOperationCalled.ParentInstanceId = null;
                        e.EntityOperationCalled.ParentExecutionId = null;
                        break;
                    case SendEntityMessageAction.EntityMessageTypeOneofCase.EntityLockRequested:
                        e.EntityLockRequested = message.EntityLockRequested.Clone();
                        e.EntityLockRequested.ParentInstanceId = null;
                        break;
                    default:
                        e.EntityUnlockSent = message.EntityUnlockSent.Clone();
                        e.EntityUnlockSent.ParentInstanceId = null;
                        break;
                }

                break;
            case OrchestratorAction.OrchestratorActionTypeOneofCase.CompleteOrchestration:
                e.EventId = -1;
                e.ExecutionCompleted = new ExecutionCompletedEvent
                {
                    OrchestrationStatus = action.CompleteOrchestration.OrchestrationStatus,
                    Result = action.CompleteOrchestration.Result,
                    FailureDetails = action.CompleteOrchestration.FailureDetails,
                };
                break;
            default:
                return null;
        }

        return e;
    }
}
