using KataWorkflows.Engine.Tests.Harness;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Engine.Tests;

public sealed class ContinueAsNewTests
{
    [Fact]
    public async Task Counter_loop_through_continue_as_new_reaches_its_final_value()
    {
        var executions = new System.Collections.Concurrent.ConcurrentDictionary<int, byte>();
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            r.AddActivityFunc<int, int>("inc", (ctx, x) => Task.FromResult(x + 1));
            r.AddOrchestratorFunc<int, int>("counter", async (ctx, n) =>
            {
                executions.TryAdd(n, 0);
                if (n >= 10)
                {
                    return n;
                }

                ctx.ContinueAsNew(await ctx.CallActivityAsync<int>("inc", n));
                return -1;
            });
        });

        var done = await harness.RunAsync("counter", 0, "counter-1");

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal("counter-1", done.InstanceId);
        Assert.Equal("10", done.SerializedOutput);
        Assert.Equal("10", done.SerializedInput);
        Assert.Equal(Enumerable.Range(0, 11), executions.Keys.Order());
        var history = await harness.HistoryAsync("counter-1");
        Assert.Equal([Kind.OrchestratorStarted, Kind.ExecutionStarted], history.Kinds()[..2]);
        Assert.Equal("10", history[1].ExecutionStarted.Input);
        Assert.Equal(0, history.Count(Kind.TaskScheduled));
    }

    [Fact]
    public async Task New_execution_keeps_the_instance_id_gets_a_new_execution_id_and_starts_with_the_new_input()
    {
        var gate = new Gate();
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            r.AddActivityFunc<string?, string?>("hold", async (ctx, _) =>
            {
                await gate.PassAsync(ActivityExecution.CancellationToken);
                return null;
            });
            r.AddOrchestratorFunc<int, string>("generations", async (ctx, generation) =>
            {
                if (generation == 0)
                {
                    await ctx.CallActivityAsync("hold");
                    ctx.ContinueAsNew(1);
                    return "never";
                }

                ctx.SetCustomStatus($"generation {generation}");
                return await ctx.WaitForExternalEvent<string>("finish");
            });
        });
        var id = await harness.ScheduleAsync("generations", 0, "gen-1");
        await gate.WaitForArrivalAsync(harness.Token);
        var first = await harness.Client.GetInstanceRecordAsync(id, cancellation: harness.Token);
        Assert.NotNull(first);
        var firstHistory = await harness.HistoryAsync(id);

        gate.Release();
        var second = await harness.WaitForInstanceAsync(id, m => m.SerializedCustomStatus == "\"generation 1\"", "to start generation 1");

        Assert.Equal(id, second.InstanceId);
        Assert.NotEqual(first.ExecutionId, second.ExecutionId);
        Assert.Equal(OrchestrationRuntimeStatus.Running, second.Status);
        Assert.Equal("1", second.SerializedInput);
        var history = await harness.HistoryAsync(id);
        Assert.Equal([Kind.OrchestratorStarted, Kind.ExecutionStarted], history.Kinds()[..2]);
        var started = history[1].ExecutionStarted;
        Assert.Equal("1", started.Input);
        Assert.Equal(id, started.OrchestrationInstance.InstanceId);
        Assert.Equal(second.ExecutionId, started.OrchestrationInstance.ExecutionId);
        Assert.Equal(first.ExecutionId, firstHistory[1].ExecutionStarted.OrchestrationInstance.ExecutionId);

        // The previous execution's history is dropped with it.
        Assert.Empty(await harness.HistoryAsync(id, first.ExecutionId));

        await harness.Client.RaiseEventAsync(id, "finish", "done", harness.Token);
        var done = await harness.WaitForCompletionAsync(id);
        Assert.Equal("\"done\"", done.SerializedOutput);
        Assert.Equal(second.ExecutionId, done.ExecutionId);
    }

    [Theory]
    [InlineData(true, "\"kept\"")]
    [InlineData(false, "\"lost\"")]
    public async Task Buffered_event_is_carried_to_the_new_execution_only_when_asked(bool preserve, string expected)
    {
        var gate = new Gate();
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            r.AddActivityFunc<string?, string?>("hold", async (ctx, _) =>
            {
                await gate.PassAsync(ActivityExecution.CancellationToken);
                return null;
            });
            r.AddOrchestratorFunc<int, string>("carrier", async (ctx, generation) =>
            {
                if (generation == 0)
                {
                    // The event arrives while this awaits; nobody here waits for it.
                    await ctx.CallActivityAsync("hold");
                    ctx.ContinueAsNew(1, preserveUnprocessedEvents: preserve);
                    return "never";
                }

                try
                {
                    return await ctx.WaitForExternalEvent<string>("extra", TimeSpan.FromMilliseconds(300));
                }
                catch (TaskCanceledException)
                {
                    return "lost";
                }
            });
        });
        var id = await harness.ScheduleAsync("carrier", 0);
        await gate.WaitForArrivalAsync(harness.Token);
        await harness.Client.RaiseEventAsync(id, "extra", "kept", harness.Token);
        await harness.WaitForHistoryAsync(id, h => h.IndexOf(Kind.EventRaised) >= 0, "to record the event");

        gate.Release();
        var done = await harness.WaitForCompletionAsync(id);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal(expected, done.SerializedOutput);
        var history = await harness.HistoryAsync(id);
        Assert.Equal("1", history[1].ExecutionStarted.Input);
        Assert.Equal(preserve ? 1 : 0, history.Count(Kind.EventRaised));
    }
}
