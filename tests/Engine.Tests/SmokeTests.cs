using KataWorkflows.Engine.Tests.Harness;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Tests;

public sealed class SmokeTests
{
    [Fact]
    public async Task Four_activities_complete()
    {
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            r.AddActivityFunc<int, int>("inc", (ctx, x) => Task.FromResult(x + 1));
            r.AddOrchestratorFunc<int, int>("wf", async (ctx, x) =>
            {
                for (var i = 0; i < 4; i++)
                {
                    x = await ctx.CallActivityAsync<int>("inc", x);
                }

                return x;
            });
        });

        var done = await harness.RunAsync("wf", 10);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal("14", done.SerializedOutput);
        var history = await harness.HistoryAsync(done.InstanceId);
        Assert.Equal(4, history.Count(HistoryEvent.EventTypeOneofCase.TaskScheduled));
        Assert.Equal(4, history.Count(HistoryEvent.EventTypeOneofCase.TaskCompleted));
    }
}
