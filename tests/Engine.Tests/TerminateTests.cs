using KataWorkflows.Engine.Tests.Harness;
using Microsoft.DurableTask.Protobuf;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Engine.Tests;

public sealed class TerminateTests
{
    private static void Register(DurableTaskRegistry r, Gate gate)
    {
        r.AddActivityFunc<string, string>("blocking", async (ctx, input) =>
        {
            await gate.PassAsync(ActivityExecution.CancellationToken);
            return input + " done";
        });
        r.AddOrchestratorFunc<string, string>("worker", (ctx, input) => ctx.CallActivityAsync<string>("blocking", input));
        r.AddOrchestratorFunc<string, string>("parent", (ctx, input) =>
            ctx.CallSubOrchestratorAsync<string>("worker", input, new SubOrchestrationOptions { InstanceId = ctx.InstanceId + ":child" }));
    }

    [Fact]
    public async Task Terminating_an_instance_with_a_pending_activity_ends_it_with_the_reason_and_ignores_the_late_result()
    {
        var gate = new Gate();
        await using var harness = await EngineHarness.StartAsync(r => Register(r, gate));
        var id = await harness.ScheduleAsync("worker", "job");
        await gate.WaitForArrivalAsync(harness.Token);

        await harness.Client.TerminateInstanceAsync(id, "operator said stop", cancellation: harness.Token);
        var terminated = await harness.WaitForCompletionAsync(id);

        Assert.Equal(OrchestrationRuntimeStatus.Terminated, terminated.Status);
        Assert.Equal("operator said stop", terminated.Output<string>());
        Assert.NotNull(terminated.CompletedAt);
        var history = await harness.HistoryAsync(id);
        Assert.Equal([Kind.ExecutionTerminated, Kind.ExecutionCompleted, Kind.OrchestratorCompleted], history.Kinds()[^3..]);
        var completed = history[^2].ExecutionCompleted;
        Assert.Equal(OrchestrationStatus.Terminated, completed.OrchestrationStatus);
        Assert.Equal(terminated.SerializedOutput, completed.Result);
        Assert.Equal(terminated.SerializedOutput, history[^3].ExecutionTerminated.Input);

        gate.Release();
        var late = await harness.Observed.WaitForActivityResultAsync(id, "blocking", harness.Token);

        Assert.NotNull(late.TaskCompleted);
        var after = await harness.Client.GetInstanceRecordAsync(id, getInputsAndOutputs: true, harness.Token);
        Assert.Equal(terminated, after);
        Assert.Equal(history.Count, (await harness.HistoryAsync(id)).Count);
    }

    [Fact]
    public async Task Recursive_terminate_also_terminates_a_running_sub_orchestration()
    {
        var gate = new Gate();
        await using var harness = await EngineHarness.StartAsync(r => Register(r, gate));
        var id = await harness.ScheduleAsync("parent", "job", "tree");
        await gate.WaitForArrivalAsync(harness.Token);

        await harness.Client.TerminateInstanceAsync(id, new Microsoft.DurableTask.Client.TerminateInstanceOptions { Output = "cancel all", Recursive = true }, harness.Token);
        var parent = await harness.WaitForCompletionAsync(id);
        var child = await harness.WaitForCompletionAsync("tree:child");

        Assert.Equal(OrchestrationRuntimeStatus.Terminated, parent.Status);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, child.Status);
        Assert.Equal("cancel all", child.Output<string>());
        var childHistory = await harness.HistoryAsync("tree:child");
        Assert.True(childHistory[childHistory.IndexOf(Kind.ExecutionTerminated)].ExecutionTerminated.Recurse);
    }

    [Fact]
    public async Task Non_recursive_terminate_leaves_the_sub_orchestration_running_to_completion()
    {
        var gate = new Gate();
        await using var harness = await EngineHarness.StartAsync(r => Register(r, gate));
        var id = await harness.ScheduleAsync("parent", "job", "tree");
        await gate.WaitForArrivalAsync(harness.Token);

        await harness.Client.TerminateInstanceAsync(id, "only the parent", cancellation: harness.Token);
        var parent = await harness.WaitForCompletionAsync(id);
        gate.Release();
        var child = await harness.WaitForCompletionAsync("tree:child");

        Assert.Equal(OrchestrationRuntimeStatus.Terminated, parent.Status);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, child.Status);
        Assert.Equal("job done", child.Output<string>());
    }

    [Fact]
    public async Task Terminating_a_finished_instance_leaves_it_as_it_was()
    {
        var gate = new Gate();
        gate.Release();
        await using var harness = await EngineHarness.StartAsync(r => Register(r, gate));
        var done = await harness.RunAsync("worker", "job");

        await harness.Client.TerminateInstanceAsync(done.InstanceId, "too late", cancellation: harness.Token);

        Assert.Equal(done, await harness.Client.GetInstanceRecordAsync(done.InstanceId, getInputsAndOutputs: true, harness.Token));
    }
}
