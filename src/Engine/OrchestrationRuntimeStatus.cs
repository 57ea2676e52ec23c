using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine;

/// <summary>The status of an orchestration instance. The values equal the protocol's <c>OrchestrationStatus</c>.</summary>
public enum OrchestrationRuntimeStatus
{
    /// <summary>Started and not finished.</summary>
    Running = 0,

    /// <summary>Finished with an output.</summary>
    Completed = 1,

    /// <summary>Replaced by a new execution (only seen in history).</summary>
    ContinuedAsNew = 2,

    /// <summary>Finished with a failure.</summary>
    Failed = 3,

    /// <summary>Canceled (reserved by the protocol; not produced by this engine).</summary>
    Canceled = 4,

    /// <summary>Terminated by a client.</summary>
    Terminated = 5,

    /// <summary>Scheduled and not started yet.</summary>
    Pending = 6,

    /// <summary>Suspended by a client; events are held until it resumes.</summary>
    Suspended = 7,
}

/// <summary>Helpers over <see cref="OrchestrationRuntimeStatus"/>.</summary>
public static class OrchestrationRuntimeStatusExtensions
{
    /// <summary>True for Completed, Failed, Terminated and Canceled: the instance will not run again.</summary>
    public static bool IsTerminal(this OrchestrationRuntimeStatus status) =>
        status is OrchestrationRuntimeStatus.Completed or OrchestrationRuntimeStatus.Failed
            or OrchestrationRuntimeStatus.Terminated or OrchestrationRuntimeStatus.Canceled;

    /// <summary>Converts to the protocol enum.</summary>
    public static OrchestrationStatus ToProto(this OrchestrationRuntimeStatus status) => (OrchestrationStatus)(int)status;

    /// <summary>Converts from the protocol enum.</summary>
    public static OrchestrationRuntimeStatus FromProto(this OrchestrationStatus status) => (OrchestrationRuntimeStatus)(int)status;
}
