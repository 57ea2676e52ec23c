using Microsoft.DurableTask;

namespace KataWorkflows.Bench.Benchmarks;

/// <summary>
/// The workflow of <c>bench engine</c>: four sequential no-op activities, each given its step number and returning it.
/// One definition for both workers: the engine's in-process worker (bench) and the official gRPC worker in another
/// process (bench/Worker, which compiles this file too).
/// </summary>
internal static class FourSteps
{
    /// <summary>The activities each workflow runs one after another.</summary>
    public const int ActivitiesPerWorkflow = 4;

    /// <summary>The orchestration's name.</summary>
    public const string OrchestrationName = "bench-four-steps";

    /// <summary>The activity's name.</summary>
    public const string ActivityName = "bench-noop";

    /// <summary>Adds the orchestration and the activity to <paramref name="registry"/>.</summary>
    public static DurableTaskRegistry Register(DurableTaskRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddActivityFunc<int, int>(ActivityName, (_, step) => Task.FromResult(step));
        registry.AddOrchestratorFunc<int, int>(OrchestrationName, async (context, _) =>
        {
            var last = 0;
            for (var step = 1; step <= ActivitiesPerWorkflow; step++)
            {
                last = await context.CallActivityAsync<int>(ActivityName, step);
            }

            return last;
        });
        return registry;
    }
}
