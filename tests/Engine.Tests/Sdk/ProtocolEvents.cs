using Google.Protobuf.WellKnownTypes;
using Microsoft.DurableTask.Protobuf;

using TaskFailureDetails = Microsoft.DurableTask.Protobuf.TaskFailureDetails;

namespace KataWorkflows.Engine.Tests.Sdk;

/// <summary>Hand-written protocol history events, as the store would record or deliver them.</summary>
internal static class ProtocolEvents
{
    public static readonly DateTime T0 = new(2026, 3, 1, 12, 0, 0, DateTimeKind.Utc);

    public static Timestamp At(DateTime time) => Timestamp.FromDateTime(time);

    public static HistoryEvent OrchestratorStarted(DateTime at) => new() { EventId = -1, Timestamp = At(at), OrchestratorStarted = new() };

    public static HistoryEvent OrchestratorCompleted(DateTime at) => new() { EventId = -1, Timestamp = At(at), OrchestratorCompleted = new() };

    public static HistoryEvent ExecutionStarted(string name, string? input, string instanceId = "i1", string executionId = "e1", ParentInstanceInfo? parent = null) => new()
    {
        EventId = -1,
        Timestamp = At(T0),
        ExecutionStarted = new ExecutionStartedEvent
        {
            Name = name,
            Input = input,
            OrchestrationInstance = new OrchestrationInstance { InstanceId = instanceId, ExecutionId = executionId },
            ParentInstance = parent,
        },
    };

    public static HistoryEvent TaskScheduled(int id, string name, string? input = null) => new()
    {
        EventId = id,
        Timestamp = At(T0),
        TaskScheduled = new TaskScheduledEvent { Name = name, Input = input },
    };

    public static HistoryEvent TaskCompleted(int id, string? result) => new()
    {
        EventId = -1,
        Timestamp = At(T0),
        TaskCompleted = new TaskCompletedEvent { TaskScheduledId = id, Result = result },
    };

    public static HistoryEvent TaskFailed(int id, TaskFailureDetails failure) => new()
    {
        EventId = -1,
        Timestamp = At(T0),
        TaskFailed = new TaskFailedEvent { TaskScheduledId = id, FailureDetails = failure },
    };

    public static HistoryEvent TimerFired(int id, DateTime fireAt) => new()
    {
        EventId = -1,
        Timestamp = At(fireAt),
        TimerFired = new TimerFiredEvent { TimerId = id, FireAt = At(fireAt) },
    };

    public static HistoryEvent EventRaised(string name, string? input) => new()
    {
        EventId = -1,
        Timestamp = At(T0),
        EventRaised = new EventRaisedEvent { Name = name, Input = input },
    };

    public static HistoryEvent SubOrchestrationCompleted(int id, string? result) => new()
    {
        EventId = -1,
        Timestamp = At(T0),
        SubOrchestrationInstanceCompleted = new SubOrchestrationInstanceCompletedEvent { TaskScheduledId = id, Result = result },
    };

    public static HistoryEvent SubOrchestrationFailed(int id, TaskFailureDetails failure) => new()
    {
        EventId = -1,
        Timestamp = At(T0),
        SubOrchestrationInstanceFailed = new SubOrchestrationInstanceFailedEvent { TaskScheduledId = id, FailureDetails = failure },
    };

    public static HistoryEvent EntityCompleted(string requestId, string? output) => new()
    {
        EventId = -1,
        Timestamp = At(T0),
        EntityOperationCompleted = new EntityOperationCompletedEvent { RequestId = requestId, Output = output },
    };

    public static HistoryEvent EntityFailed(string requestId, TaskFailureDetails failure) => new()
    {
        EventId = -1,
        Timestamp = At(T0),
        EntityOperationFailed = new EntityOperationFailedEvent { RequestId = requestId, FailureDetails = failure },
    };

    public static HistoryEvent LockGranted(string criticalSectionId) => new()
    {
        EventId = -1,
        Timestamp = At(T0),
        EntityLockGranted = new EntityLockGrantedEvent { CriticalSectionId = criticalSectionId },
    };

    public static TaskFailureDetails Failure(string type, string message, TaskFailureDetails? inner = null) => new()
    {
        ErrorType = type,
        ErrorMessage = message,
        StackTrace = "   at Somewhere()",
        InnerFailure = inner,
    };
}
