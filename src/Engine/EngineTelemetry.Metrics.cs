using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Engine;

public static partial class EngineTelemetry
{
    private static readonly Meter Meter = new(Name);
    private static readonly Counter<long> RunsStarted = Meter.CreateCounter<long>(RunsStartedInstrument, "{run}", "Orchestration runs whose code started running.");
    private static readonly Counter<long> RunsCompleted = Meter.CreateCounter<long>(RunsCompletedInstrument, "{run}", "Orchestration runs that completed.");
    private static readonly Counter<long> RunsFailed = Meter.CreateCounter<long>(RunsFailedInstrument, "{run}", "Orchestration runs that failed.");
    private static readonly Counter<long> RunsTerminated = Meter.CreateCounter<long>(RunsTerminatedInstrument, "{run}", "Orchestration runs that were terminated.");
    private static readonly Histogram<double> ActivityDuration = Meter.CreateHistogram<double>(ActivityDurationInstrument, "s", "Duration of activity executions.");
    private static readonly Histogram<double> EpisodeDuration = Meter.CreateHistogram<double>(EpisodeDurationInstrument, "s", "Duration of orchestration episodes, replay and commit included.");

    // Stores are held weakly: a store that is dropped without being disposed must not be kept alive by the gauge.
    private static readonly ConditionalWeakTable<OrchestrationStore, object?> Stores = [];

    private static readonly ObservableGauge<long> Backlog = Meter.CreateObservableGauge(
        BacklogInstrument, ObserveBacklog, "{work_item}", "Work items ready to be handed to a worker (orchestrations, activities, entities).");

    internal static void Track(OrchestrationStore store) => Stores.AddOrUpdate(store, null);

    internal static void Untrack(OrchestrationStore store) => Stores.Remove(store);

    /// <summary>Counts the run's start and end: <paramref name="ranCode"/> is false for an episode that only applied a terminate.</summary>
    internal static void RecordEpisode(OrchestrationMetadata before, OrchestrationMetadata after, bool ranCode, TimeSpan duration)
    {
        if (!RunsStarted.Enabled && !RunsCompleted.Enabled && !RunsFailed.Enabled && !RunsTerminated.Enabled && !EpisodeDuration.Enabled)
        {
            return;
        }

        var name = new KeyValuePair<string, object?>(TaskNameTag, after.Name);
        if (ranCode && before.Status == OrchestrationRuntimeStatus.Pending)
        {
            RunsStarted.Add(1, name);
        }

        switch (after.Status)
        {
            case OrchestrationRuntimeStatus.Completed:
                RunsCompleted.Add(1, name);
                break;
            case OrchestrationRuntimeStatus.Failed:
                RunsFailed.Add(1, name);
                break;
            case OrchestrationRuntimeStatus.Terminated:
                RunsTerminated.Add(1, name);
                break;
            default:
                break;
        }

        if (EpisodeDuration.Enabled)
        {
            EpisodeDuration.Record(duration.TotalSeconds, name, new(StatusTag, after.Status.ToString()));
        }
    }

    internal static void RecordActivity(string name, TimeSpan duration, bool succeeded)
    {
        if (ActivityDuration.Enabled)
        {
            ActivityDuration.Record(duration.TotalSeconds, new(TaskNameTag, name), new(OutcomeTag, succeeded ? CompletedOutcome : FailedOutcome));
        }
    }

    private static IEnumerable<Measurement<long>> ObserveBacklog()
    {
        long orchestrations = 0, activities = 0, entities = 0;
        foreach (var (store, _) in Stores)
        {
            var (o, a, e) = store.ReadyBacklog();
            orchestrations += o;
            activities += a;
            entities += e;
        }

        return
        [
            new(orchestrations, new KeyValuePair<string, object?>(WorkItemKindTag, "orchestration")),
            new(activities, new KeyValuePair<string, object?>(WorkItemKindTag, "activity")),
            new(entities, new KeyValuePair<string, object?>(WorkItemKindTag, "entity")),
        ];
    }
}
