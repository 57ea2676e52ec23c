using KataWorkflows.Engine.Tests.Harness;

namespace KataWorkflows.Engine.Tests;

public sealed class ShutdownTests
{
    /// <summary>
    /// An activity the worker locked just as it began to stop is given back, not started: started, it would only be
    /// cancelled at once, and its side effects would run one time more than needed. (Entities.EntityRestartTests once
    /// saw a gated activity arrive three times across one restart: the stopping worker had taken the activity it had
    /// just abandoned and started it again.)
    /// </summary>
    [Fact]
    public async Task An_activity_locked_as_the_worker_stops_is_given_back_and_runs_once_in_the_next_worker()
    {
        var gate = new Gate();
        void Register(DurableTaskRegistry r)
        {
            r.AddActivityFunc<string, string>("gated", async (_, input) =>
            {
                await gate.PassAsync(ActivityExecution.CancellationToken);
                return input;
            });
            r.AddOrchestratorFunc<string, string>("calls-gated", (ctx, input) => ctx.CallActivityAsync<string>("gated", input));
        }

        await using var harness = await EngineHarness.StartAsync(Register);
        Task? stopping = null;
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Observed.AfterActivityLocked = _ =>
        {
            // The worker has the activity and starts to stop before it runs it: StopAsync cancels the worker's
            // token before its first await.
            if (stopping is null)
            {
                stopping = harness.StopAsync();
                stopped.TrySetResult();
            }

            return Task.CompletedTask;
        };

        var id = await harness.ScheduleAsync("calls-gated", "x", "shut-1");
        await stopped.Task.WaitAsync(harness.Token);
        await stopping!.WaitAsync(harness.Token);
        Assert.Equal(0, gate.Entries);

        await harness.RestartAsync(Register);
        await gate.WaitForArrivalAsync(harness.Token);
        gate.Release();
        var done = await harness.WaitForCompletionAsync(id);
        Assert.Equal("x", done.Output<string>());
        Assert.Equal(1, gate.Entries);
    }
}
