using System.Text;
using KataWorkflows.Engine;

namespace KataWorkflows.Engine.CrashHost;

/// <summary>
/// The workflow the crash tests kill and resume: <see cref="Steps"/> sequential runs of the <see cref="StepActivity"/>
/// activity, each of which records that it ran in the marker directory's <see cref="RunsLog"/>.
/// </summary>
internal static class CrashWorkflow
{
    /// <summary>The orchestration name (stored in history).</summary>
    public const string OrchestrationName = "crash-wf";

    /// <summary>The activity name (stored in history).</summary>
    public const string StepActivity = "step";

    /// <summary>How many steps the workflow runs.</summary>
    public const int Steps = 5;

    /// <summary>The step that hangs while the hang marker exists.</summary>
    public const int HangingStep = 3;

    /// <summary>One line per activity run: <c>instance step pid</c>.</summary>
    public const string RunsLog = "runs.log";

    /// <summary>While this file exists in the marker directory, step <see cref="HangingStep"/> never finishes.</summary>
    public const string HangMarker = "hang";

    /// <summary>Registers the orchestration and its activity.</summary>
    public static void Register(DurableTaskRegistry registry, string markerDirectory)
    {
        registry.AddOrchestratorFunc<object?, int>(OrchestrationName, async (context, _) =>
        {
            var last = 0;
            for (var step = 1; step <= Steps; step++)
            {
                last = await context.CallActivityAsync<int>(StepActivity, step);
            }

            return last;
        });

        registry.AddActivityFunc<int, int>(StepActivity, async (context, step) =>
        {
            Record(markerDirectory, $"{context.InstanceId} {step} {Environment.ProcessId}\n");
            if (step == HangingStep && File.Exists(Path.Combine(markerDirectory, HangMarker)))
            {
                // Hold the step open until the process is killed (or shut down, which hands the step back).
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            }

            return step;
        });
    }

    private static void Record(string markerDirectory, string line)
    {
        // Flushed to the disk before the activity can complete, so the log never misses a run that happened.
        using var log = new FileStream(Path.Combine(markerDirectory, RunsLog), FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        log.Write(Encoding.UTF8.GetBytes(line));
        log.Flush(flushToDisk: true);
    }
}
