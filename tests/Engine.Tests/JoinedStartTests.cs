using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Tests.Harness;
using StartOrchestrationOptions = Microsoft.DurableTask.StartOrchestrationOptions;

namespace KataWorkflows.Engine.Tests;

/// <summary>
/// A start is written by its first episode's checkpoint when the worker is idle; a second client that makes the same
/// start meanwhile (the same request, retried) must find that run, not be told it does not exist.
/// </summary>
public sealed class JoinedStartTests
{
    [Fact]
    public async Task A_client_joining_a_start_still_being_written_waits_for_it_and_gets_its_result()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var harness = await EngineHarness.StartAsync(r =>
            r.AddOrchestratorFunc<int, int>("echo", (_, x) => Task.FromResult(x)));
        await harness.Observed.WaitForOrchestrationDispatcherAsleepAsync(harness.Token);
        harness.Observed.BeforeOrchestrationCommit = async (workItem, _) =>
        {
            if (workItem.InstanceId == "joined")
            {
                held.TrySetResult();
                await release.Task;
            }
        };

        var first = harness.Client.ScheduleNewOrchestrationInstanceAsync("echo", 7, new StartOrchestrationOptions { InstanceId = "joined" }, harness.Token);
        await held.Task.WaitAsync(harness.Token);

        // The first episode is held before its commit: the start is not written yet, and its call has not returned.
        Assert.False(first.IsCompleted);
        await Assert.ThrowsAsync<DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException>(() =>
            harness.Client.ScheduleNewOrchestrationInstanceAsync("echo", 7, new StartOrchestrationOptions { InstanceId = "joined" }, harness.Token));
        var joined = harness.Client.WaitForInstanceCompletionRecordAsync("joined", getInputsAndOutputs: true, harness.Token);
        Assert.False(joined.IsCompleted);

        release.SetResult();
        Assert.Equal("joined", await first);
        var done = await joined;
        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal(7, done.Output<int>());
    }

    [Fact]
    public async Task A_start_after_the_worker_stopped_is_written_on_its_own_and_runs_when_a_worker_is_back()
    {
        await using var harness = await EngineHarness.StartAsync(r =>
            r.AddOrchestratorFunc<int, int>("echo", (_, x) => Task.FromResult(x)));
        await harness.Observed.WaitForOrchestrationDispatcherAsleepAsync(harness.Token);

        // The dispatcher's last sleep ended with the worker: no start may wait for it to write the run.
        await harness.StopAsync();
        var id = await harness.Client.ScheduleNewOrchestrationInstanceAsync("echo", 5, new StartOrchestrationOptions { InstanceId = "after-stop" }, harness.Token)
            .WaitAsync(TimeSpan.FromSeconds(10), harness.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Pending, (await harness.Client.GetInstanceRecordAsync(id, cancellation: harness.Token))?.Status);

        await harness.StartWorkerAsync();
        Assert.Equal(5, (await harness.WaitForCompletionAsync(id)).Output<int>());
    }
}
