using System.Text;
using KataWorkflows.Engine.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Entities;

namespace KataWorkflows.Engine.CrashHost;

using EntityInstanceId = Microsoft.DurableTask.Entities.EntityInstanceId;

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

    /// <summary>
    /// The orchestration that runs the same steps inside a critical section on <see cref="CounterId"/>, adding each
    /// step's result to the counter, and returns the counter's final value.
    /// </summary>
    public const string LockedOrchestrationName = "crash-locked-wf";

    /// <summary>The entity the locked workflow holds for all its steps.</summary>
    public static readonly EntityInstanceId CounterId = new("crash-counter", "k");

    /// <summary>Registers the orchestrations, their activity and the counter entity.</summary>
    public static void Register(DurableTaskRegistry registry, string markerDirectory)
    {
        registry.AddEntity(CounterId.Name, _ => new Counter());
        registry.AddOrchestratorFunc<object?, int>(LockedOrchestrationName, async (context, _) =>
        {
            await using (await context.Entities.LockEntitiesAsync(CounterId))
            {
                var total = 0;
                for (var step = 1; step <= Steps; step++)
                {
                    var result = await context.CallActivityAsync<int>(StepActivity, step);
                    total = await context.Entities.CallEntityAsync<int>(CounterId, nameof(Counter.Add), result);
                }

                return total;
            }
        });

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
                await Task.Delay(Timeout.Infinite, ActivityExecution.CancellationToken);
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

/// <summary>A number that steps add to.</summary>
internal sealed class Counter : TaskEntity<int>
{
    public int Add(int amount) => State += amount;
}
