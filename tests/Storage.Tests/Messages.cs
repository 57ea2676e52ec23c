using Google.Protobuf.WellKnownTypes;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Storage.Tests;

/// <summary>Inbox messages the conformance cases send, built the way the client and the worker build them.</summary>
public static class Messages
{
    /// <summary>An external event.</summary>
    public static HistoryEvent Event(string name, string? input = null) =>
        new() { EventId = -1, EventRaised = new EventRaisedEvent { Name = name, Input = input } };

    /// <summary>A terminate request.</summary>
    public static HistoryEvent Terminate(string? reason = null) =>
        new() { EventId = -1, ExecutionTerminated = new ExecutionTerminatedEvent { Input = reason } };

    /// <summary>A suspend request.</summary>
    public static HistoryEvent Suspend() => new() { EventId = -1, ExecutionSuspended = new ExecutionSuspendedEvent() };

    /// <summary>A resume request.</summary>
    public static HistoryEvent Resume() => new() { EventId = -1, ExecutionResumed = new ExecutionResumedEvent() };

    /// <summary>An activity's successful result, as the worker hands it back.</summary>
    public static HistoryEvent TaskCompleted(int taskId, string? result, DateTime at) =>
        new() { EventId = -1, Timestamp = Timestamp.FromDateTime(at), TaskCompleted = new TaskCompletedEvent { TaskScheduledId = taskId, Result = result } };

    /// <summary>An activity's failure, as the worker hands it back.</summary>
    public static HistoryEvent TaskFailed(int taskId, string message, DateTime at) =>
        new()
        {
            EventId = -1,
            Timestamp = Timestamp.FromDateTime(at),
            TaskFailed = new TaskFailedEvent { TaskScheduledId = taskId, FailureDetails = new TaskFailureDetails { ErrorType = "Boom", ErrorMessage = message } },
        };
}
