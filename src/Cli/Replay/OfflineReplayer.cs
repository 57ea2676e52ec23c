using KataWorkflows.Engine.Sdk;
using KataWorkflows.Engine.Serialization;

namespace KataWorkflows.Cli.Replay;

/// <summary>
/// Replays an exported history against orchestration code, in this process, with no host and no store, through the
/// same DurableTask.Core executor and SDK shims as the host's worker: a verdict means what production would do.
/// </summary>
public static class OfflineReplayer
{
    /// <summary>Replays <paramref name="document"/> against <paramref name="module"/>.</summary>
    /// <exception cref="CliException">The module does not have the history's orchestration (a usage error).</exception>
    public static ReplayResult Replay(HistoryDocument document, OrchestrationModule module)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(module);
        var names = module.OrchestratorNames;
        if (!names.Contains(document.Name, StringComparer.OrdinalIgnoreCase))
        {
            throw CliException.Usage(
                $"the history is a run of '{document.Name}', which {module.Description} does not register (it has: {string.Join(", ", names.Order(StringComparer.Ordinal))})");
        }

        return SdkOrchestrationRunner.ForReplay(module.Registry).Replay(document.Events);
    }
}
