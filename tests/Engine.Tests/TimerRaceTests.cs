using KataWorkflows.Engine.Tests.Harness;

namespace KataWorkflows.Engine.Tests;

public sealed class TimerRaceTests
{
    /// <summary>The step-timeout pattern of the sandbox orchestrations: a durable timer raced against an activity.</summary>
    [Fact]
    public async Task A_timer_that_wins_against_a_hung_activity_lets_the_orchestration_go_on_and_finish()
    {
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            r.AddActivityFunc<string, string>("hangs", async (ctx, input) =>
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, ActivityExecution.CancellationToken);
                return input;
            });
            r.AddActivityFunc<string, string>("undo", (ctx, input) => Task.FromResult("undone " + input));
            r.AddOrchestratorFunc<string, string>("races", async (ctx, input) =>
            {
                using var cancelTimer = new CancellationTokenSource();
                var call = ctx.CallActivityAsync<string>("hangs", input);
                var timer = ctx.CreateTimer(TimeSpan.FromMilliseconds(300), cancelTimer.Token);
                if (await Task.WhenAny(call, timer) == call)
                {
                    cancelTimer.Cancel();
                    return await call;
                }

                return await ctx.CallActivityAsync<string>("undo", input);
            });
        });

        // DurableTask.Core would hold the completion back until the hung activity finished; the run ends with its code.
        var done = await harness.RunAsync("races", "x");

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal("\"undone x\"", done.SerializedOutput);
    }
}
