using Google.Protobuf.WellKnownTypes;
using KataWorkflows.Engine.Sdk;
using Microsoft.DurableTask.Protobuf;
using static KataWorkflows.Engine.Tests.Sdk.ProtocolEvents;
using CoreCommand = DurableTask.Core.Command;
using CoreHistory = DurableTask.Core.History;

using TaskFailureDetails = Microsoft.DurableTask.Protobuf.TaskFailureDetails;

namespace KataWorkflows.Engine.Tests.Sdk;

public sealed class CoreHistoryMapperTests
{
    private const string RequestId = "0f8fad5b-d9cb-469f-a165-70867728950e";
    private const string SectionId = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

    private static readonly CoreHistoryMapper Mapper = new(TimeSpan.FromDays(3));

    private static readonly DateTime Later = T0.AddMinutes(3).AddMilliseconds(250);

#pragma warning disable CS0612 // The deprecated span id is a protocol field like any other: it must survive the mapping.
    private static TraceContext Trace(string span = "00f067aa0ba902b7") => new()
    {
        TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        SpanID = span,
        TraceState = "kata=1",
    };
#pragma warning restore CS0612

    private static TaskFailureDetails RichFailure()
    {
        var inner = Failure("System.IO.IOException", "disk \"sda\" is gone");
        inner.IsNonRetriable = true;
        var failure = Failure("KataWorkflows.SandboxException", "create failed: ünïcode", inner);
        failure.Properties["attempt"] = Value.ForNumber(3);
        failure.Properties["host"] = Value.ForString("node-1");
        failure.Properties["transient"] = Value.ForBool(false);
        failure.Properties["none"] = Value.ForNull();
        failure.Properties["nested"] = Value.ForStruct(new Struct { Fields = { ["k"] = Value.ForList(Value.ForNumber(1), Value.ForString("two")) } });
        return failure;
    }

    /// <summary>One event of every protocol type, every field the type has filled in.</summary>
    private static readonly Dictionary<string, HistoryEvent> Samples = BuildSamples();

    public static TheoryData<string> SampleNames => [.. Samples.Keys];

    private static Dictionary<string, HistoryEvent> BuildSamples()
    {
        var samples = new Dictionary<string, HistoryEvent>(StringComparer.Ordinal);
        void Add(string name, int id, Action<HistoryEvent> fill)
        {
            var e = new HistoryEvent { EventId = id, Timestamp = At(Later) };
            fill(e);
            samples.Add(name, e);
        }

        Add("ExecutionStarted", -1, e =>
        {
            e.ExecutionStarted = new ExecutionStartedEvent
            {
                Name = "CreateSandbox",
                Version = "2",
                Input = "{\"id\":\"sb1\"}",
                OrchestrationInstance = new OrchestrationInstance { InstanceId = "i1", ExecutionId = "e1" },
                ParentInstance = new ParentInstanceInfo
                {
                    TaskScheduledId = 4,
                    Name = "RunSandbox",
                    Version = "1",
                    OrchestrationInstance = new OrchestrationInstance { InstanceId = "p1", ExecutionId = "pe1" },
                },
                ScheduledStartTimestamp = At(T0.AddHours(1)),
                ParentTraceContext = Trace(),
                OrchestrationSpanID = "b7ad6b7169203331",
                Tags = { ["sandbox"] = "sb1", ["tier"] = "gold" },
            };
        });
        Add("ExecutionCompleted", -1, e => e.ExecutionCompleted = new ExecutionCompletedEvent
        {
            OrchestrationStatus = OrchestrationStatus.Failed,
            Result = "\"partial\"",
            FailureDetails = RichFailure(),
        });
        Add("ExecutionTerminated", -1, e => e.ExecutionTerminated = new ExecutionTerminatedEvent { Input = "\"operator\"", Recurse = true });
        Add("TaskScheduled", 3, e =>
        {
            e.TaskScheduled = new TaskScheduledEvent { Name = "StartVm", Version = "1", Input = "{\"cpus\":2}", ParentTraceContext = Trace() };
            e.TaskScheduled.Tags["host"] = "node-1";
        });
        Add("TaskCompleted", -1, e => e.TaskCompleted = new TaskCompletedEvent { TaskScheduledId = 3, Result = "\"ok\"" });
        Add("TaskFailed", -1, e => e.TaskFailed = new TaskFailedEvent { TaskScheduledId = 3, FailureDetails = RichFailure() });
        Add("SubOrchestrationInstanceCreated", 5, e =>
        {
            e.SubOrchestrationInstanceCreated = new SubOrchestrationInstanceCreatedEvent
            {
                InstanceId = "child-1",
                Name = "CreateContainer",
                Version = "1",
                Input = "[1,2]",
                ParentTraceContext = Trace(),
            };
            e.SubOrchestrationInstanceCreated.Tags["c"] = "1";
        });
        Add("SubOrchestrationInstanceCompleted", -1, e => e.SubOrchestrationInstanceCompleted = new SubOrchestrationInstanceCompletedEvent { TaskScheduledId = 5, Result = "null" });
        Add("SubOrchestrationInstanceFailed", -1, e => e.SubOrchestrationInstanceFailed = new SubOrchestrationInstanceFailedEvent { TaskScheduledId = 5, FailureDetails = RichFailure() });
        Add("TimerCreated", 6, e => e.TimerCreated = new TimerCreatedEvent { FireAt = At(T0.AddMinutes(30)) });
        Add("TimerFired", -1, e => e.TimerFired = new TimerFiredEvent { TimerId = 6, FireAt = At(T0.AddMinutes(30)) });
        Add("OrchestratorStarted", -1, e => e.OrchestratorStarted = new OrchestratorStartedEvent());
        Add("OrchestratorCompleted", -1, e => e.OrchestratorCompleted = new OrchestratorCompletedEvent());
        Add("EventSent", 7, e => e.EventSent = new EventSentEvent { InstanceId = "other", Name = "ready", Input = "{\"a\":1}" });
        Add("EventRaised", -1, e => e.EventRaised = new EventRaisedEvent { Name = "approve", Input = "true" });
        Add("GenericEvent", -1, e => e.GenericEvent = new GenericEvent { Data = "rewound" });
        Add("HistoryState", -1, e =>
        {
            var state = new OrchestrationState
            {
                InstanceId = "i1",
                Name = "CreateSandbox",
                Version = "2",
                OrchestrationStatus = OrchestrationStatus.Completed,
                ScheduledStartTimestamp = At(T0),
                CreatedTimestamp = At(T0),
                LastUpdatedTimestamp = At(Later),
                Input = "1",
                Output = "2",
                CustomStatus = "\"s\"",
                FailureDetails = RichFailure(),
                ExecutionId = "e1",
                CompletedTimestamp = At(Later),
                ParentInstanceId = "p1",
            };
            state.Tags["t"] = "v";
            e.HistoryState = new HistoryStateEvent { OrchestrationState = state };
        });
        Add("ContinueAsNew", -1, e => e.ContinueAsNew = new ContinueAsNewEvent { Input = "5" });
        Add("ExecutionSuspended", -1, e => e.ExecutionSuspended = new ExecutionSuspendedEvent { Input = "maintenance" });
        Add("ExecutionResumed", -1, e => e.ExecutionResumed = new ExecutionResumedEvent { Input = "done" });
        Add("EntityOperationSignaled", 8, e => e.EntityOperationSignaled = new EntityOperationSignaledEvent
        {
            RequestId = RequestId,
            Operation = "add",
            ScheduledTime = At(T0.AddHours(2)),
            Input = "{\"by\":\"q\\\"uote\"}",
            TargetInstanceId = "@counter@a",
        });
        Add("EntityOperationSignaled (no input)", 8, e => e.EntityOperationSignaled = new EntityOperationSignaledEvent { RequestId = RequestId, Operation = "reset", TargetInstanceId = "@counter@a" });
        Add("EntityOperationCalled", 9, e => e.EntityOperationCalled = new EntityOperationCalledEvent
        {
            RequestId = RequestId,
            Operation = "get",
            Input = "3",
            TargetInstanceId = "@sandbox@sb1",
        });
        Add("EntityOperationCalled (as the action carries it)", 9, e => e.EntityOperationCalled = new EntityOperationCalledEvent
        {
            RequestId = RequestId,
            Operation = "set",
            Input = "{}",
            ParentInstanceId = "i1",
            ParentExecutionId = "e1",
            TargetInstanceId = "@counter@a",
        });
        Add("EntityOperationCompleted", -1, e => e.EntityOperationCompleted = new EntityOperationCompletedEvent { RequestId = RequestId, Output = "{\"n\":7}" });
        Add("EntityOperationCompleted (no output)", -1, e => e.EntityOperationCompleted = new EntityOperationCompletedEvent { RequestId = RequestId });
        Add("EntityOperationFailed", -1, e => e.EntityOperationFailed = new EntityOperationFailedEvent { RequestId = RequestId, FailureDetails = RichFailure() });
        Add("EntityLockRequested", 10, e => e.EntityLockRequested = new EntityLockRequestedEvent
        {
            CriticalSectionId = SectionId,
            LockSet = { "@counter@a", "@counter@b", "@sandbox@x@y" },
            Position = 0,
        });
        Add("EntityLockRequested (forwarded message)", -1, e => e.EntityLockRequested = new EntityLockRequestedEvent
        {
            CriticalSectionId = SectionId,
            LockSet = { "@counter@a", "@counter@b" },
            Position = 1,
            ParentInstanceId = "i1",
        });
        Add("EntityLockGranted", -1, e => e.EntityLockGranted = new EntityLockGrantedEvent { CriticalSectionId = SectionId });
        Add("EntityUnlockSent", -1, e => e.EntityUnlockSent = new EntityUnlockSentEvent { CriticalSectionId = SectionId, TargetInstanceId = "@counter@b" });
        Add("EntityUnlockSent (message)", -1, e => e.EntityUnlockSent = new EntityUnlockSentEvent { CriticalSectionId = SectionId, ParentInstanceId = "i1", TargetInstanceId = "@counter@b" });
        Add("ExecutionRewound", -1, e =>
        {
            e.ExecutionRewound = new ExecutionRewoundEvent
            {
                Reason = "fixed the bug",
                ParentExecutionId = "pe1",
                InstanceId = "i1",
                ParentTraceContext = Trace(string.Empty),
                Name = "CreateSandbox",
                Version = "2",
                Input = "1",
                ParentInstance = new ParentInstanceInfo { TaskScheduledId = 1, Name = "Run", OrchestrationInstance = new OrchestrationInstance { InstanceId = "p1" } },
            };
            e.ExecutionRewound.Tags["t"] = "v";
        });
        return samples;
    }

    [Fact]
    public void The_samples_cover_every_protocol_event_type()
    {
        var covered = Samples.Values.Select(e => e.EventTypeCase).ToHashSet();
        var missing = System.Enum.GetValues<HistoryEvent.EventTypeOneofCase>().Where(c => c != HistoryEvent.EventTypeOneofCase.None && !covered.Contains(c));
        Assert.Equal([], missing);
    }

    [Theory]
    [MemberData(nameof(SampleNames))]
    public void Every_event_survives_protocol_to_core_to_protocol(string sample)
    {
        var original = Samples[sample];

        var core = Mapper.ToCore(original);
        var back = CoreHistoryMapper.ToProtocol(core);

        Assert.Equal(original, back);
        Assert.Equal(original.EventId, core.EventId);
        Assert.Equal(Later, core.Timestamp);
    }

    [Fact]
    public void Entity_events_reach_core_in_its_legacy_encoding()
    {
        var signal = Assert.IsType<CoreHistory.EventSentEvent>(Mapper.ToCore(Samples["EntityOperationSignaled"], episodeTime: T0));
        Assert.Equal("@counter@a", signal.InstanceId);
        Assert.Equal("op@2026-03-01T14:00:00.0000000Z", signal.Name);
        Assert.Contains("\"signal\":true", signal.Input, StringComparison.Ordinal);

        var lockRequest = Assert.IsType<CoreHistory.EventSentEvent>(Mapper.ToCore(Samples["EntityLockRequested"]));
        Assert.Equal("@counter@a", lockRequest.InstanceId);
        Assert.Equal("op", lockRequest.Name);
        Assert.Contains("\"lockset\":[{\"name\":\"counter\",\"key\":\"a\"},{\"name\":\"counter\",\"key\":\"b\"},{\"name\":\"sandbox\",\"key\":\"x@y\"}]", lockRequest.Input, StringComparison.Ordinal);

        var unlock = Assert.IsType<CoreHistory.EventSentEvent>(Mapper.ToCore(Samples["EntityUnlockSent"]));
        Assert.Equal("release", unlock.Name);
        Assert.Equal($"{{\"id\":\"{SectionId}\"}}", unlock.Input);

        var granted = Assert.IsAssignableFrom<CoreHistory.EventRaisedEvent>(Mapper.ToCore(Samples["EntityLockGranted"]));
        Assert.Equal(SectionId, granted.Name);
        Assert.Equal("{\"result\":\"Lock Acquisition Completed\"}", granted.Input);

        var completed = Assert.IsAssignableFrom<CoreHistory.EventRaisedEvent>(Mapper.ToCore(Samples["EntityOperationCompleted"]));
        Assert.Equal(RequestId, completed.Name);
        Assert.Equal("{\"result\":\"{\\\"n\\\":7}\"}", completed.Input);
    }

    [Fact]
    public void A_scheduled_signal_name_is_capped_at_the_episode_time_plus_the_maximum_timer_interval()
    {
        var e = Samples["EntityOperationSignaled"].Clone();
        e.EntityOperationSignaled.ScheduledTime = At(T0.AddDays(10));

        var sent = Assert.IsType<CoreHistory.EventSentEvent>(Mapper.ToCore(e, episodeTime: T0));

        Assert.Equal("op@2026-03-04T12:00:00.0000000Z", sent.Name);
        Assert.Equal(T0.AddDays(10), CoreHistoryMapper.ToProtocol(sent).EntityOperationSignaled.ScheduledTime.ToDateTime());
    }

    [Fact]
    public void An_entity_request_without_a_target_is_an_inbox_message_and_is_rejected()
    {
        var e = Samples["EntityOperationCalled"].Clone();
        e.EntityOperationCalled.TargetInstanceId = null;

        var error = Assert.Throws<ArgumentException>(() => Mapper.ToCore(e));

        Assert.Contains("no target", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_user_event_named_like_an_entity_answer_stays_a_user_event()
    {
        var e = EventRaised(RequestId, "{\"result\":\"7\"}");
        Assert.Equal(e, CoreHistoryMapper.ToProtocol(Mapper.ToCore(e)));
    }

    [Fact]
    public void Schedule_task_action_maps_field_by_field_and_loses_the_sdk_argument_array()
    {
        var action = new CoreCommand.ScheduleTaskOrchestratorAction { Id = 3, Name = "StartVm", Version = "1", Input = "[{\"cpus\":2}]", Tags = new Dictionary<string, string> { ["h"] = "n1" } };

        var p = CoreHistoryMapper.ToProtocol(action);

        Assert.Equal(3, p.Id);
        Assert.Equal("StartVm", p.ScheduleTask.Name);
        Assert.Equal("1", p.ScheduleTask.Version);
        Assert.Equal("{\"cpus\":2}", p.ScheduleTask.Input);
        Assert.Equal("n1", p.ScheduleTask.Tags["h"]);
        Assert.Null(CoreHistoryMapper.ToProtocol(new CoreCommand.ScheduleTaskOrchestratorAction { Name = "A", Input = "[null]" }).ScheduleTask.Input);
        Assert.Equal("[1,2]", CoreHistoryMapper.ToProtocol(new CoreCommand.ScheduleTaskOrchestratorAction { Name = "A", Input = "[[1,2]]" }).ScheduleTask.Input);
    }

    [Fact]
    public void Sub_orchestration_timer_and_event_actions_map_field_by_field()
    {
        var sub = CoreHistoryMapper.ToProtocol(new CoreCommand.CreateSubOrchestrationAction
        {
            Id = 4,
            Name = "Child",
            Version = "2",
            InstanceId = "child-1",
            Input = "\"in\"",
            Tags = new Dictionary<string, string> { ["t"] = "v" },
        });
        Assert.Equal(4, sub.Id);
        Assert.Equal(("Child", "2", "child-1", "\"in\"", "v"), (sub.CreateSubOrchestration.Name, sub.CreateSubOrchestration.Version, sub.CreateSubOrchestration.InstanceId, sub.CreateSubOrchestration.Input, sub.CreateSubOrchestration.Tags["t"]));

        var timer = CoreHistoryMapper.ToProtocol(new CoreCommand.CreateTimerOrchestratorAction { Id = 5, FireAt = DateTime.SpecifyKind(T0.AddMinutes(1), DateTimeKind.Unspecified) });
        Assert.Equal(5, timer.Id);
        Assert.Equal(T0.AddMinutes(1), timer.CreateTimer.FireAt.ToDateTime());

        var send = CoreHistoryMapper.ToProtocol(new CoreCommand.SendEventOrchestratorAction
        {
            Id = 6,
            Instance = new DurableTask.Core.OrchestrationInstance { InstanceId = "other", ExecutionId = "x1" },
            EventName = "ready",
            EventData = "{\"a\":1}",
        });
        Assert.Equal(6, send.Id);
        Assert.Equal(("other", "x1", "ready", "{\"a\":1}"), (send.SendEvent.Instance.InstanceId, send.SendEvent.Instance.ExecutionId, send.SendEvent.Name, send.SendEvent.Data));
    }

    [Fact]
    public void Core_entity_request_messages_become_explicit_entity_actions()
    {
        // As DurableTask.Core 3.11.2 writes them (durabletask-sdk.md §7), including fields this backend ignores.
        var signalJson = "{\"op\":\"add\",\"signal\":true,\"input\":\"1\",\"id\":\"" + RequestId + "\",\"parent\":\"o1\",\"parentExecution\":\"e1\","
            + "\"due\":\"2026-03-01T14:00:00Z\",\"Timestamp\":\"2026-03-01T12:00:00Z\",\"Predecessor\":\"0001-01-01T00:00:00\",\"IsLockRequest\":false,\"createTrace\":true,\"requestTime\":\"2026-03-01T12:00:00+00:00\"}";
        var signal = CoreHistoryMapper.ToProtocol(Send(1, "@counter@b", "op@2026-03-01T14:00:00.0000000Z", signalJson)).SendEntityMessage.EntityOperationSignaled;
        Assert.Equal((RequestId, "add", "1", "@counter@b"), (signal.RequestId, signal.Operation, signal.Input, signal.TargetInstanceId));
        Assert.Equal(T0.AddHours(2), signal.ScheduledTime.ToDateTime());

        var callJson = "{\"op\":\"get\",\"id\":\"" + RequestId + "\",\"parent\":\"o1\",\"parentExecution\":\"e1\",\"Timestamp\":\"2026-03-01T12:00:00Z\",\"IsLockRequest\":false}";
        var callAction = CoreHistoryMapper.ToProtocol(Send(2, "@counter@a", "op", callJson));
        Assert.Equal(2, callAction.Id);
        var call = callAction.SendEntityMessage.EntityOperationCalled;
        Assert.Equal((RequestId, "get", null, "o1", "e1", "@counter@a"), (call.RequestId, call.Operation, call.Input, call.ParentInstanceId, call.ParentExecutionId, call.TargetInstanceId));
        Assert.Null(call.ScheduledTime);

        var lockJson = "{\"op\":null,\"id\":\"" + SectionId + "\",\"parent\":\"o1\",\"parentExecution\":\"e1\",\"lockset\":[{\"name\":\"counter\",\"key\":\"a\"},{\"name\":\"counter\",\"key\":\"b\"}],\"IsLockRequest\":true}";
        var locking = CoreHistoryMapper.ToProtocol(Send(3, "@counter@a", "op", lockJson)).SendEntityMessage.EntityLockRequested;
        Assert.Equal(SectionId, locking.CriticalSectionId);
        Assert.Equal(["@counter@a", "@counter@b"], locking.LockSet);
        Assert.Equal(0, locking.Position);
        Assert.Equal("o1", locking.ParentInstanceId);

        var release = CoreHistoryMapper.ToProtocol(Send(4, "@counter@b", "release", "{\"parent\":\"o1\",\"id\":\"" + SectionId + "\"}")).SendEntityMessage.EntityUnlockSent;
        Assert.Equal((SectionId, "o1", "@counter@b"), (release.CriticalSectionId, release.ParentInstanceId, release.TargetInstanceId));
    }

    [Fact]
    public void A_lock_request_sent_to_an_entity_outside_its_position_is_rejected_by_name()
    {
        var lockJson = "{\"op\":null,\"id\":\"" + SectionId + "\",\"lockset\":[{\"name\":\"counter\",\"key\":\"a\"},{\"name\":\"counter\",\"key\":\"b\"}]}";
        var e = Assert.Throws<ArgumentException>(() => CoreHistoryMapper.ToProtocol(Send(3, "@counter@b", "op", lockJson)));
        Assert.Contains("@counter@b", e.Message, StringComparison.Ordinal);
        Assert.Contains("position 0", e.Message, StringComparison.Ordinal);

        var noId = Assert.Throws<FormatException>(() => CoreHistoryMapper.ToProtocol(Send(3, "@counter@b", "op", "{\"op\":\"get\"}")));
        Assert.Contains("no id", noId.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Complete_action_maps_status_result_details_version_tags_failure_and_carryover()
    {
        var action = new CoreCommand.OrchestrationCompleteOrchestratorAction
        {
            Id = 9,
            OrchestrationStatus = DurableTask.Core.OrchestrationStatus.ContinuedAsNew,
            Result = "2",
            Details = "details",
            NewVersion = "3",
            FailureDetails = CoreHistoryMapper.ToCore(RichFailure()),
        };
        action.Tags["t"] = "v";
        action.CarryoverEvents.Add(Mapper.ToCore(EventRaised("later", "\"b\"")));
        action.CarryoverEvents.Add(Mapper.ToCore(EntityCompleted(RequestId, "5")));

        var complete = CoreHistoryMapper.ToProtocol(action);

        Assert.Equal(9, complete.Id);
        var c = complete.CompleteOrchestration;
        Assert.Equal(OrchestrationStatus.ContinuedAsNew, c.OrchestrationStatus);
        Assert.Equal(("2", "details", "3", "v"), (c.Result, c.Details, c.NewVersion, c.Tags["t"]));
        Assert.Equal(RichFailure(), c.FailureDetails);
        Assert.Equal(2, c.CarryoverEvents.Count);
        Assert.Equal("later", c.CarryoverEvents[0].EventRaised.Name);
        Assert.Equal("5", c.CarryoverEvents[1].EntityOperationCompleted.Output);
    }

    [Fact]
    public void A_sequence_caps_scheduled_signals_relative_to_the_episode_that_sent_them()
    {
        var signal = Samples["EntityOperationSignaled"].Clone();
        signal.EntityOperationSignaled.ScheduledTime = At(T0.AddDays(10));
        signal.Timestamp = At(T0.AddHours(5)); // recorded at commit time, after the episode began

        var events = Mapper.ToCore([OrchestratorStarted(T0), signal]);

        Assert.Equal("op@2026-03-04T12:00:00.0000000Z", ((CoreHistory.EventSentEvent)events[1]).Name);
    }

    private static CoreCommand.SendEventOrchestratorAction Send(int id, string instanceId, string name, string json) => new()
    {
        Id = id,
        Instance = new DurableTask.Core.OrchestrationInstance { InstanceId = instanceId },
        EventName = name,
        EventData = json,
    };
}
