using KataWorkflows.Engine.Tests.Harness;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Engine.Tests;

public sealed class SuspendResumeTests
{
    private static void Register(DurableTaskRegistry r)
    {
        r.AddOrchestratorFunc<string?, string>("suspendable", async (ctx, _) =>
        {
            ctx.SetCustomStatus("waiting");
            var value = await ctx.WaitForExternalEvent<string>("go");
            ctx.SetCustomStatus("got " + value);
            return value;
        });
        r.AddOrchestratorFunc<string?, string>("probe", (ctx, _) => Task.FromResult("probed"));
    }

    [Fact]
    public async Task Suspended_instance_holds_an_event_until_it_resumes_then_completes_with_it()
    {
        // One episode at a time: when a probe scheduled after the event has finished, any episode the event could
        // have triggered has run already.
        await using var harness = await EngineHarness.StartAsync(Register, o => o.ConfigureWorker = w => w.MaxConcurrentOrchestrations = 1);
        var id = await harness.ScheduleAsync("suspendable");
        await harness.WaitForInstanceAsync(id, m => m.SerializedCustomStatus == "\"waiting\"", "to wait for the event");

        await harness.Client.SuspendInstanceAsync(id, "maintenance", harness.Token);
        var suspended = await harness.WaitForInstanceAsync(id, m => m.Status == OrchestrationRuntimeStatus.Suspended, "to suspend");
        await harness.Client.RaiseEventAsync(id, "go", "green", harness.Token);
        var probe = await harness.RunAsync("probe");

        Assert.Equal(OrchestrationRuntimeStatus.Completed, probe.Status);
        var held = await harness.Client.GetInstanceRecordAsync(id, getInputsAndOutputs: true, harness.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Suspended, held?.Status);
        Assert.Equal("\"waiting\"", held?.SerializedCustomStatus);
        Assert.Equal(suspended.LastUpdatedAt, held?.LastUpdatedAt);
        var whileSuspended = await harness.HistoryAsync(id);
        Assert.Equal(1, whileSuspended.Count(Kind.ExecutionSuspended));
        Assert.Equal("maintenance", whileSuspended[whileSuspended.IndexOf(Kind.ExecutionSuspended)].ExecutionSuspended.Input);
        Assert.Equal(0, whileSuspended.Count(Kind.EventRaised));

        await harness.Client.ResumeInstanceAsync(id, "done", harness.Token);
        var done = await harness.WaitForCompletionAsync(id);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal("\"green\"", done.SerializedOutput);
        Assert.Equal("\"got green\"", done.SerializedCustomStatus);
        var history = await harness.HistoryAsync(id);
        Assert.Equal(
            [Kind.ExecutionStarted, Kind.ExecutionSuspended, Kind.EventRaised, Kind.ExecutionResumed, Kind.ExecutionCompleted],
            history.Steps());
    }

    [Fact]
    public async Task Suspending_or_resuming_a_finished_instance_throws_InstanceStateException()
    {
        await using var harness = await EngineHarness.StartAsync(Register);
        var done = await harness.RunAsync("probe");

        var suspend = await Assert.ThrowsAsync<InstanceStateException>(() => harness.Client.SuspendInstanceAsync(done.InstanceId, null, harness.Token));
        var resume = await Assert.ThrowsAsync<InstanceStateException>(() => harness.Client.ResumeInstanceAsync(done.InstanceId, null, harness.Token));

        Assert.Equal(OrchestrationRuntimeStatus.Completed, suspend.Status);
        Assert.Contains("suspend", suspend.Message, StringComparison.Ordinal);
        Assert.Contains("resume", resume.Message, StringComparison.Ordinal);
    }
}
