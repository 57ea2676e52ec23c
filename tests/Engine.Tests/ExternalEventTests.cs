using KataWorkflows.Engine.Tests.Harness;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Engine.Tests;

public sealed class ExternalEventTests
{
    [Fact]
    public async Task Event_raised_before_the_orchestration_waits_for_it_is_delivered_when_it_does()
    {
        var gate = new Gate();
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            r.AddActivityFunc<string, string>("slow", async (ctx, input) =>
            {
                await gate.PassAsync(ActivityExecution.CancellationToken);
                return input;
            });
            r.AddOrchestratorFunc<string, string>("late-waiter", async (ctx, input) =>
            {
                var first = await ctx.CallActivityAsync<string>("slow", input);
                var approval = await ctx.WaitForExternalEvent<string>("Approval");
                return $"{first}:{approval}";
            });
        });
        var id = await harness.ScheduleAsync("late-waiter", "order");
        await gate.WaitForArrivalAsync(harness.Token);

        // Event names match case-insensitively.
        await harness.Client.RaiseEventAsync(id, "approval", "alice", harness.Token);
        await harness.WaitForHistoryAsync(id, h => h.IndexOf(Kind.EventRaised) >= 0, "to record the early event");
        gate.Release();
        var done = await harness.WaitForCompletionAsync(id);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal("\"order:alice\"", done.SerializedOutput);
        var history = await harness.HistoryAsync(id);
        Assert.True(history.IndexOf(Kind.EventRaised) < history.IndexOf(Kind.TaskCompleted), "the event must have arrived before the wait started");
        Assert.Equal(1, history.Count(Kind.EventRaised));
    }

    [Fact]
    public async Task Wait_with_timeout_throws_TimeoutException_into_the_code_when_no_event_arrives()
    {
        await using var harness = await EngineHarness.StartAsync(r =>
            r.AddOrchestratorFunc<string?, string>("impatient", async (ctx, _) =>
            {
                try
                {
                    return await ctx.WaitForExternalEvent<string>("never", TimeSpan.FromMilliseconds(200));
                }
                // The SDK cancels the wait when the timeout's timer fires first.
                catch (TaskCanceledException ex)
                {
                    return $"timeout: {ex.Message}";
                }
            }));

        var done = await harness.RunAsync("impatient");

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.StartsWith("timeout: ", done.Output<string>(), StringComparison.Ordinal);
        var history = await harness.HistoryAsync(done.InstanceId);
        Assert.Equal([Kind.ExecutionStarted, Kind.TimerCreated, Kind.TimerFired, Kind.ExecutionCompleted], history.Steps());
        var created = history[history.IndexOf(Kind.TimerCreated)];
        Assert.Equal(TimeSpan.FromMilliseconds(200), created.TimerCreated.FireAt.ToDateTime() - history.EpisodeTime(0));
    }

    [Fact]
    public async Task Uncaught_timeout_fails_the_orchestration_with_TimeoutException()
    {
        await using var harness = await EngineHarness.StartAsync(r =>
            r.AddOrchestratorFunc<string?, string>("impatient", (ctx, _) => ctx.WaitForExternalEvent<string>("never", TimeSpan.FromMilliseconds(200))));

        var done = await harness.RunAsync("impatient");

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.Status);
        Assert.Equal(typeof(TaskCanceledException).FullName, done.FailureDetails?.ErrorType);
    }

    [Fact]
    public async Task Event_arriving_within_the_timeout_is_returned_and_the_timer_is_ignored()
    {
        await using var harness = await EngineHarness.StartAsync(r =>
            r.AddOrchestratorFunc<string?, int>("patient", async (ctx, _) =>
            {
                ctx.SetCustomStatus("waiting");
                return await ctx.WaitForExternalEvent<int>("value", TimeSpan.FromMinutes(5));
            }));
        var id = await harness.ScheduleAsync("patient");
        await harness.WaitForInstanceAsync(id, m => m.SerializedCustomStatus == "\"waiting\"", "to wait");

        await harness.Client.RaiseEventAsync(id, "value", 42, harness.Token);
        var done = await harness.WaitForCompletionAsync(id);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal("42", done.SerializedOutput);
        var history = await harness.HistoryAsync(id);
        Assert.Equal(0, history.Count(Kind.TimerFired));
    }

    [Fact]
    public async Task Event_for_an_unknown_instance_throws_InstanceNotFoundException()
    {
        await using var harness = await EngineHarness.StartAsync(_ => { });

        var ex = await Assert.ThrowsAsync<InstanceNotFoundException>(() => harness.Client.RaiseEventAsync("nobody", "x", null, harness.Token));

        Assert.Equal("nobody", ex.InstanceId);
    }
}
