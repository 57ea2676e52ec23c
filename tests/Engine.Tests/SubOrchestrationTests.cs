using KataWorkflows.Engine.Tests.Harness;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Engine.Tests;

public sealed class SubOrchestrationTests
{
    private static void Register(DurableTaskRegistry r)
    {
        r.AddOrchestratorFunc<int, int>("child-square", (ctx, x) => Task.FromResult(x * x));
        r.AddOrchestratorFunc<string, string>("child-broken", (ctx, why) => Task.FromException<string>(new InvalidOperationException($"child broke: {why}")));
        r.AddOrchestratorFunc<int, int>("parent-square", async (ctx, x) => await ctx.CallSubOrchestratorAsync<int>("child-square", x) + 1);
        r.AddOrchestratorFunc<string, string>("parent-catching", async (ctx, why) =>
        {
            try
            {
                return await ctx.CallSubOrchestratorAsync<string>("child-broken", why, new SubOrchestrationOptions { InstanceId = ctx.InstanceId + ":child" });
            }
            catch (TaskFailedException ex)
            {
                return $"{ex.TaskName}|{ex.FailureDetails.ErrorType}|{ex.FailureDetails.ErrorMessage}";
            }
        });
        r.AddOrchestratorFunc<string, string>("parent-propagating", (ctx, why) => ctx.CallSubOrchestratorAsync<string>("child-broken", why));
    }

    [Fact]
    public async Task Successful_sub_orchestration_returns_its_output_and_names_its_parent()
    {
        await using var harness = await EngineHarness.StartAsync(Register);

        var done = await harness.RunAsync("parent-square", 6, "parent-1");

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal("37", done.SerializedOutput);
        var history = await harness.HistoryAsync("parent-1");
        var created = history[history.IndexOf(Kind.SubOrchestrationInstanceCreated)];
        Assert.Equal("child-square", created.SubOrchestrationInstanceCreated.Name);
        var completed = history[history.IndexOf(Kind.SubOrchestrationInstanceCompleted)];
        Assert.Equal(created.EventId, completed.SubOrchestrationInstanceCompleted.TaskScheduledId);
        Assert.Equal("36", completed.SubOrchestrationInstanceCompleted.Result);

        var childId = created.SubOrchestrationInstanceCreated.InstanceId;
        var child = await harness.Client.GetInstanceRecordAsync(childId, getInputsAndOutputs: true, harness.Token);
        Assert.NotNull(child);
        Assert.Equal("parent-1", child.ParentInstanceId);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, child.Status);
        Assert.Equal("6", child.SerializedInput);
        var childHistory = await harness.HistoryAsync(childId);
        var started = childHistory[childHistory.IndexOf(Kind.ExecutionStarted)].ExecutionStarted;
        Assert.Equal("parent-1", started.ParentInstance.OrchestrationInstance.InstanceId);
        Assert.Equal(created.EventId, started.ParentInstance.TaskScheduledId);
    }

    [Fact]
    public async Task Failed_sub_orchestration_surfaces_as_TaskFailedException_with_the_child_failure()
    {
        await using var harness = await EngineHarness.StartAsync(Register);

        var done = await harness.RunAsync("parent-catching", "no disk", "parent-2");

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal($"child-broken|{typeof(InvalidOperationException).FullName}|child broke: no disk", done.Output<string>());
        var child = await harness.Client.GetInstanceRecordAsync("parent-2:child", cancellation: harness.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Failed, child?.Status);
        Assert.Equal("parent-2", child?.ParentInstanceId);
        var history = await harness.HistoryAsync("parent-2");
        var failed = history[history.IndexOf(Kind.SubOrchestrationInstanceFailed)].SubOrchestrationInstanceFailed;
        Assert.Equal("child broke: no disk", failed.FailureDetails.ErrorMessage);
    }

    [Fact]
    public async Task Uncaught_sub_orchestration_failure_fails_the_parent_with_the_child_failure_as_cause()
    {
        await using var harness = await EngineHarness.StartAsync(Register);

        var done = await harness.RunAsync("parent-propagating", "no network");

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.Status);
        var failure = Assert.IsType<FailureDetails>(done.FailureDetails);
        Assert.Equal(typeof(TaskFailedException).FullName, failure.ErrorType);
        Assert.Contains("'child-broken'", failure.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(typeof(InvalidOperationException).FullName, failure.InnerFailure?.ErrorType);
        Assert.Equal("child broke: no network", failure.InnerFailure?.ErrorMessage);
        Assert.True(failure.IsCausedBy<InvalidOperationException>());
    }
}
