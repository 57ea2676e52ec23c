using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace KataWorkflows.Engine;

/// <summary>The engine's trace source, meter and the names of its spans, instruments and tags.</summary>
public static class EngineTelemetry
{
    /// <summary>The name of the engine's <see cref="ActivitySource"/> and <see cref="Meter"/>.</summary>
    public const string Name = "KataWorkflows.Engine";

    /// <summary>Span of one orchestration episode.</summary>
    public const string OrchestrationSpan = "orchestration.episode";

    /// <summary>Span of one activity run.</summary>
    public const string ActivitySpan = "activity.run";

    /// <summary>Span of a client call that starts an instance.</summary>
    public const string ScheduleSpan = "orchestration.schedule";

    /// <summary>Tag: the instance id.</summary>
    public const string InstanceIdTag = "kwf.instance_id";

    /// <summary>Tag: the orchestration or activity name.</summary>
    public const string NameTag = "kwf.name";

    /// <summary>Tag: the runtime status after an episode.</summary>
    public const string StatusTag = "kwf.status";

    /// <summary>Tag: whether an activity succeeded.</summary>
    public const string OutcomeTag = "kwf.outcome";

    internal static readonly ActivitySource Source = new(Name);

    private static readonly Meter Meter = new(Name);
    private static readonly Counter<long> Started = Meter.CreateCounter<long>("kwf.orchestrations.started", description: "Orchestration instances that started running.");
    private static readonly Counter<long> Completed = Meter.CreateCounter<long>("kwf.orchestrations.completed", description: "Orchestration instances that completed.");
    private static readonly Counter<long> Failed = Meter.CreateCounter<long>("kwf.orchestrations.failed", description: "Orchestration instances that failed.");
    private static readonly Counter<long> Terminated = Meter.CreateCounter<long>("kwf.orchestrations.terminated", description: "Orchestration instances that were terminated.");
    private static readonly Histogram<double> ActivityDuration = Meter.CreateHistogram<double>("kwf.activity.duration", unit: "ms", description: "Duration of activity runs.");

    internal static void RecordEpisode(OrchestrationMetadata before, OrchestrationMetadata after)
    {
        var tag = new KeyValuePair<string, object?>(NameTag, after.Name);
        if (before.Status == OrchestrationRuntimeStatus.Pending && after.Status != OrchestrationRuntimeStatus.Pending)
        {
            Started.Add(1, tag);
        }

        switch (after.Status)
        {
            case OrchestrationRuntimeStatus.Completed:
                Completed.Add(1, tag);
                break;
            case OrchestrationRuntimeStatus.Failed:
                Failed.Add(1, tag);
                break;
            case OrchestrationRuntimeStatus.Terminated:
                Terminated.Add(1, tag);
                break;
            default:
                break;
        }
    }

    internal static void RecordActivity(string name, TimeSpan duration, bool succeeded) =>
        ActivityDuration.Record(duration.TotalMilliseconds, new(NameTag, name), new(OutcomeTag, succeeded ? "completed" : "failed"));
}
