using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace KataWorkflows.Engine;

/// <summary>
/// The engine's trace source and meter, and the names of its spans, instruments and tags. Span names and span tags
/// follow the official Durable Task SDKs (<c>create_orchestration:&lt;name&gt;</c>, <c>orchestration:&lt;name&gt;</c>,
/// <c>activity:&lt;name&gt;</c>, <c>durabletask.*</c> attributes), so traces from our engine and from SDK workers read alike.
/// </summary>
public static partial class EngineTelemetry
{
    /// <summary>The name of the engine's <see cref="ActivitySource"/> and <see cref="Meter"/>.</summary>
    public const string Name = "KataWorkflows.Engine";

    /// <summary>Span name prefix of a client (or a parent orchestration) scheduling an orchestration: <c>create_orchestration:&lt;name&gt;</c>, kind Producer.</summary>
    public const string CreateOrchestrationSpanPrefix = "create_orchestration";

    /// <summary>Span name prefix of an orchestration run, from its first episode to its end: <c>orchestration:&lt;name&gt;</c>, kind Server.</summary>
    public const string OrchestrationSpanPrefix = "orchestration";

    /// <summary>Span name prefix of one activity execution: <c>activity:&lt;name&gt;</c>, kind Server.</summary>
    public const string ActivitySpanPrefix = "activity";

    /// <summary>Span tag: what the span is about, <see cref="OrchestrationType"/> or <see cref="ActivityType"/>.</summary>
    public const string TypeTag = "durabletask.type";

    /// <summary>Span and metric tag: the orchestration or activity name.</summary>
    public const string TaskNameTag = "durabletask.task.name";

    /// <summary>Span tag: the orchestration or activity version, when it has one.</summary>
    public const string TaskVersionTag = "durabletask.task.version";

    /// <summary>Span tag: the orchestration instance id (for an activity, the instance that scheduled it).</summary>
    public const string InstanceIdTag = "durabletask.task.instance_id";

    /// <summary>Span tag on a <c>create_orchestration</c> span made by an orchestration: the instance id of the parent.</summary>
    public const string ParentInstanceIdTag = "durabletask.parent.instance_id";

    /// <summary>Span tag: the orchestration execution id.</summary>
    public const string ExecutionIdTag = "durabletask.task.execution_id";

    /// <summary>Span tag: the task id (the sequence number of the action in its orchestration) of an activity.</summary>
    public const string TaskIdTag = "durabletask.task.task_id";

    /// <summary>Span and metric tag: the runtime status an orchestration ended (or an episode left it) in.</summary>
    public const string StatusTag = "durabletask.task.status";

    /// <summary>Span tag on a failed activity span: the exception type.</summary>
    public const string ErrorTypeTag = "error.type";

    /// <summary>Metric tag: how an activity run ended, <see cref="CompletedOutcome"/> or <see cref="FailedOutcome"/>.</summary>
    public const string OutcomeTag = "kwf.outcome";

    /// <summary>Metric tag: the kind of queued work item, <c>orchestration</c>, <c>activity</c> or <c>entity</c>.</summary>
    public const string WorkItemKindTag = "kwf.work_item.kind";

    /// <summary>Value of <see cref="TypeTag"/> on orchestration spans.</summary>
    public const string OrchestrationType = "orchestration";

    /// <summary>Value of <see cref="TypeTag"/> on activity spans.</summary>
    public const string ActivityType = "activity";

    /// <summary>Value of <see cref="OutcomeTag"/> for an activity that returned.</summary>
    public const string CompletedOutcome = "completed";

    /// <summary>Value of <see cref="OutcomeTag"/> for an activity that threw.</summary>
    public const string FailedOutcome = "failed";

    /// <summary>Counter: orchestration runs whose code started running (first episode). Tag <see cref="TaskNameTag"/>.</summary>
    public const string RunsStartedInstrument = "kwf.orchestrations.started";

    /// <summary>Counter: orchestration runs that completed. Tag <see cref="TaskNameTag"/>.</summary>
    public const string RunsCompletedInstrument = "kwf.orchestrations.completed";

    /// <summary>Counter: orchestration runs that failed. Tag <see cref="TaskNameTag"/>.</summary>
    public const string RunsFailedInstrument = "kwf.orchestrations.failed";

    /// <summary>Counter: orchestration runs that were terminated. Tag <see cref="TaskNameTag"/>.</summary>
    public const string RunsTerminatedInstrument = "kwf.orchestrations.terminated";

    /// <summary>Histogram (seconds): duration of activity executions. Tags <see cref="TaskNameTag"/>, <see cref="OutcomeTag"/>.</summary>
    public const string ActivityDurationInstrument = "kwf.activity.duration";

    /// <summary>Histogram (seconds): duration of orchestration episodes, replay and commit included. Tags <see cref="TaskNameTag"/>, <see cref="StatusTag"/>.</summary>
    public const string EpisodeDurationInstrument = "kwf.orchestration.episode.duration";

    /// <summary>Observable gauge: work items ready to be handed to a worker, per store. Tag <see cref="WorkItemKindTag"/>.</summary>
    public const string BacklogInstrument = "kwf.work_items.backlog";

    internal static readonly ActivitySource Source = new(Name);
}
