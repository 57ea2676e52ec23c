using KataWorkflows.Engine.Sdk;
using KataWorkflows.Engine.Serialization;
using Microsoft.DurableTask;

namespace KataWorkflows.Host.WebConsole;

/// <summary>
/// The console's replay verdict: a run's exported history replayed offline against the orchestrations this host
/// runs, as <c>kwf wf replay</c> replays it against the ones kwf was built with. Nothing runs but orchestration code:
/// no activity, no entity, no store.
/// </summary>
internal sealed class ConsoleReplay(DurableTaskRegistry registry)
{
    /// <summary>Replays <paramref name="document"/>; the verdict says deterministic or where the code diverges.</summary>
    public ReplayVerdict Verdict(HistoryDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        if (!registry.GetOrchestrators().Any(o => string.Equals(o.Key.Name, document.Name, StringComparison.OrdinalIgnoreCase)))
        {
            return new ReplayVerdict(document.InstanceId, document.Name, Code, false, 0, document.Events.Count, null, null, null,
                $"this host does not register the orchestration '{document.Name}'");
        }

        // The same DurableTask.Core executor and SDK shims as the worker and `kwf wf replay`.
        var result = SdkOrchestrationRunner.ForReplay(registry).Replay(document.Events);
        return new ReplayVerdict(
            document.InstanceId, document.Name, Code, result.IsDeterministic, result.EventsReplayed, document.Events.Count, result.EventIndex, result.Recorded, result.Produced, null);
    }

    private static string Code
    {
        get
        {
            var assembly = typeof(Orchestrations.Sandboxes.SandboxOrchestrations).Assembly.GetName();
            return $"{assembly.Name} {assembly.Version} (this host)";
        }
    }
}

/// <summary>What a replay found.</summary>
/// <param name="InstanceId">The run.</param>
/// <param name="Name">Its orchestration.</param>
/// <param name="Code">The code it was replayed against.</param>
/// <param name="Deterministic">True when the code did what the history recorded.</param>
/// <param name="EventsReplayed">Events replayed before the end or the divergence.</param>
/// <param name="EventCount">Events in the history.</param>
/// <param name="EventIndex">Where the code diverged.</param>
/// <param name="Recorded">What the history recorded there.</param>
/// <param name="Produced">What the code did instead.</param>
/// <param name="Error">Why no replay was possible.</param>
internal sealed record ReplayVerdict(
    string InstanceId, string Name, string Code, bool Deterministic, int EventsReplayed, int EventCount, int? EventIndex, string? Recorded, string? Produced, string? Error);
