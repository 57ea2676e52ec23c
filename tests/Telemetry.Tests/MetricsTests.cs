using KataWorkflows.Engine;
using KataWorkflows.Engine.Client;
using KataWorkflows.Telemetry.Tests.Harness;
using KataWorkflows.TestSupport;

namespace KataWorkflows.Telemetry.Tests;

/// <summary>The engine's meter: run counters, activity and episode durations, the work-item backlog.</summary>
public sealed class MetricsTests
{
    [Fact]
    public async Task Run_counters_and_activity_durations_are_what_the_runs_did()
    {
        using var metrics = new MetricCollector(EngineTelemetry.Name);
        await using var host = await SqliteEngineHost.StartAsync(r => r
            .AddActivityFunc<int, int>("Slow", async (_, x) =>
            {
                // A known minimum duration, so the recorded value can be checked.
                await Task.Delay(TimeSpan.FromMilliseconds(60));
                return x;
            })
            .AddActivityFunc<int, int>("Boom", (_, _) => Task.FromException<int>(new InvalidOperationException("boom")))
            .AddOrchestratorFunc<bool, int>("Metered", async (ctx, fail) =>
            {
                var x = await ctx.CallActivityAsync<int>("Slow", 1);
                return fail ? await ctx.CallActivityAsync<int>("Boom", x) : x;
            })
            .AddOrchestratorFunc<int, int>("Waits", (ctx, _) => ctx.WaitForExternalEvent<int>("never")));

        foreach (var (id, fail) in new[] { ("m1", false), ("m2", false), ("m3", true) })
        {
            await host.Client.ScheduleNewOrchestrationInstanceAsync("Metered", fail, new Microsoft.DurableTask.StartOrchestrationOptions { InstanceId = id }, host.Token);
        }

        await host.Client.ScheduleNewOrchestrationInstanceAsync("Waits", 0, new Microsoft.DurableTask.StartOrchestrationOptions { InstanceId = "w1" }, host.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await host.WaitForCompletionAsync("m1")).Status);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await host.WaitForCompletionAsync("m2")).Status);
        Assert.Equal(OrchestrationRuntimeStatus.Failed, (await host.WaitForCompletionAsync("m3")).Status);
        await host.Client.WaitForInstanceStartRecordAsync("w1", cancellation: host.Token);
        await host.Client.TerminateInstanceAsync("w1", cancellation: host.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, (await host.WaitForCompletionAsync("w1")).Status);

        var metered = (EngineTelemetry.TaskNameTag, "Metered");
        var waits = (EngineTelemetry.TaskNameTag, "Waits");

        // The episode histogram is recorded after the run counters: once every run's last episode is in, so are they.
        string[] ended = ["Completed", "Failed", "Terminated"];
        await metrics.WaitUntilAsync(
            m => ended.Sum(s => m.Values(EngineTelemetry.EpisodeDurationInstrument, metered, (EngineTelemetry.StatusTag, s)).Count) == 3
                && m.Values(EngineTelemetry.EpisodeDurationInstrument, waits, (EngineTelemetry.StatusTag, "Terminated")).Count == 1,
            host.Token);
        Assert.Equal(3, metrics.Sum(EngineTelemetry.RunsStartedInstrument, metered));
        Assert.Equal(2, metrics.Sum(EngineTelemetry.RunsCompletedInstrument, metered));
        Assert.Equal(1, metrics.Sum(EngineTelemetry.RunsFailedInstrument, metered));
        Assert.Equal(0, metrics.Sum(EngineTelemetry.RunsTerminatedInstrument, metered));
        Assert.Equal(1, metrics.Sum(EngineTelemetry.RunsStartedInstrument, waits));
        Assert.Equal(1, metrics.Sum(EngineTelemetry.RunsTerminatedInstrument, waits));
        Assert.Equal(0, metrics.Sum(EngineTelemetry.RunsCompletedInstrument, waits));

        var slow = metrics.Values(EngineTelemetry.ActivityDurationInstrument, (EngineTelemetry.TaskNameTag, "Slow"), (EngineTelemetry.OutcomeTag, "completed"));
        Assert.Equal(3, slow.Count);
        Assert.All(slow, seconds => Assert.InRange(seconds, 0.055, 30));
        var boom = metrics.Values(EngineTelemetry.ActivityDurationInstrument, (EngineTelemetry.TaskNameTag, "Boom"));
        Assert.Single(boom);
        Assert.Single(metrics.Values(EngineTelemetry.ActivityDurationInstrument, (EngineTelemetry.TaskNameTag, "Boom"), (EngineTelemetry.OutcomeTag, "failed")));

        // Every Metered run took at least two episodes (start, then the Slow result); the last one says how the run ended.
        var episodes = metrics.Values(EngineTelemetry.EpisodeDurationInstrument, metered);
        Assert.True(episodes.Count >= 6, $"{episodes.Count} episodes");
        Assert.All(episodes, seconds => Assert.True(seconds > 0));
        Assert.Equal(2, metrics.Values(EngineTelemetry.EpisodeDurationInstrument, metered, (EngineTelemetry.StatusTag, "Completed")).Count);
        Assert.Single(metrics.Values(EngineTelemetry.EpisodeDurationInstrument, metered, (EngineTelemetry.StatusTag, "Failed")));
    }

    [Fact]
    public async Task The_backlog_gauge_counts_the_orchestration_and_activity_work_items_waiting_for_a_worker()
    {
        using var metrics = new MetricCollector(EngineTelemetry.Name);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await SqliteEngineHost.StartAsync(
            r => r
                .AddActivityFunc<int, int>("Blocked", async (_, x) =>
                {
                    entered.TrySetResult();
                    await gate.Task;
                    return x;
                })
                .AddOrchestratorFunc<int, int>("Noop", (_, x) => Task.FromResult(x))
                .AddOrchestratorFunc<int, int>("FanOut", async (ctx, n) =>
                {
                    var all = await Task.WhenAll(Enumerable.Range(0, n).Select(i => ctx.CallActivityAsync<int>("Blocked", i)));
                    return all.Sum();
                }),
            startWorker: false,
            configureWorker: o => o.MaxConcurrentActivities = 1);

        Assert.Equal(new Dictionary<string, double> { ["orchestration"] = 0, ["activity"] = 0, ["entity"] = 0 }, metrics.Observe(EngineTelemetry.BacklogInstrument, EngineTelemetry.WorkItemKindTag));

        await host.Client.ScheduleNewOrchestrationInstanceAsync("FanOut", 3, new Microsoft.DurableTask.StartOrchestrationOptions { InstanceId = "fan" }, host.Token);
        await host.Client.ScheduleNewOrchestrationInstanceAsync("Noop", 1, new Microsoft.DurableTask.StartOrchestrationOptions { InstanceId = "n1" }, host.Token);
        await host.Client.ScheduleNewOrchestrationInstanceAsync("Noop", 2, new Microsoft.DurableTask.StartOrchestrationOptions { InstanceId = "n2" }, host.Token);
        var queued = metrics.Observe(EngineTelemetry.BacklogInstrument, EngineTelemetry.WorkItemKindTag);
        Assert.Equal(3, queued["orchestration"]);
        Assert.Equal(0, queued["activity"]);

        // One worker slot for activities: one of the three runs (and blocks), two wait in the queue.
        await host.StartWorkerAsync();
        await entered.Task.WaitAsync(host.Token);
        await host.WaitForCompletionAsync("n1");
        await host.WaitForCompletionAsync("n2");
        await host.WaitForHistoryAsync("fan", h => h.Count(e => e.TaskScheduled is not null) == 3 && h.Any(e => e.OrchestratorCompleted is not null));
        var blocked = metrics.Observe(EngineTelemetry.BacklogInstrument, EngineTelemetry.WorkItemKindTag);
        Assert.Equal(0, blocked["orchestration"]);
        Assert.Equal(2, blocked["activity"]);

        gate.SetResult();
        Assert.Equal("3", (await host.WaitForCompletionAsync("fan")).SerializedOutput);
        var drained = metrics.Observe(EngineTelemetry.BacklogInstrument, EngineTelemetry.WorkItemKindTag);
        Assert.Equal(0, drained["orchestration"]);
        Assert.Equal(0, drained["activity"]);
    }
}
