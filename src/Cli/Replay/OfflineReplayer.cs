using KataWorkflows.Engine.Execution;
using KataWorkflows.Engine.Serialization;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataWorkflows.Cli.Replay;

/// <summary>Replays an exported history against orchestration code, in this process, with no host and no store.</summary>
public static class OfflineReplayer
{
    /// <summary>Replays <paramref name="document"/> against <paramref name="module"/>.</summary>
    /// <exception cref="CliException">The module does not have the history's orchestration (a usage error).</exception>
    public static ReplayResult Replay(HistoryDocument document, OrchestrationModule module)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(module);
        if (!module.Registry.OrchestratorNames.Contains(document.Name, StringComparer.OrdinalIgnoreCase))
        {
            throw CliException.Usage(
                $"the history is a run of '{document.Name}', which {module.Description} does not register (it has: {string.Join(", ", module.Registry.OrchestratorNames.Order(StringComparer.Ordinal))})");
        }

        var executor = new OrchestrationExecutor(module.Registry, NoServices.Instance, DataConverter.Default, NullLoggerFactory.Instance);
        return executor.Replay(document.InstanceId, document.Events);
    }

    // Replay runs orchestration code only: nothing is resolved from services (activities and entities do not run).
    private sealed class NoServices : IServiceProvider
    {
        public static readonly NoServices Instance = new();

        public object? GetService(Type serviceType) => null;
    }
}
