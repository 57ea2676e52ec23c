using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Tests.Harness;
using Microsoft.Extensions.Time.Testing;

namespace KataWorkflows.Engine.Tests;

public sealed class PurgeTests
{
    private static void Register(DurableTaskRegistry r)
    {
        r.AddOrchestratorFunc<int, int>("ok", (ctx, x) => Task.FromResult(x));
        r.AddOrchestratorFunc<int, int>("fails", (ctx, x) => Task.FromException<int>(new InvalidOperationException("no")));
        r.AddOrchestratorFunc<int, int>("waits", (ctx, x) => ctx.WaitForExternalEvent<int>("never"));
    }

    [Fact]
    public async Task Purging_a_finished_instance_removes_its_row_and_history()
    {
        await using var harness = await EngineHarness.StartAsync(Register);
        var done = await harness.RunAsync("ok", 1, "to-purge");
        Assert.NotEmpty(await harness.HistoryAsync("to-purge"));

        var purged = await harness.Client.PurgeInstanceAsync("to-purge", cancellation: harness.Token);

        Assert.Equal(1, purged.PurgedInstanceCount);
        Assert.Null(await harness.Client.GetInstanceRecordAsync("to-purge", cancellation: harness.Token));
        Assert.Empty(await harness.Store.GetHistoryAsync("to-purge", done.ExecutionId, harness.Token));
        Assert.Empty(await harness.Store.GetHistoryAsync("to-purge", null, harness.Token));
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => harness.HistoryAsync("to-purge"));
        Assert.Equal(0, (await harness.Client.PurgeInstanceAsync("to-purge", cancellation: harness.Token)).PurgedInstanceCount);
    }

    [Fact]
    public async Task Purging_a_running_instance_throws_InstanceStateException_and_keeps_it()
    {
        await using var harness = await EngineHarness.StartAsync(Register);
        var id = await harness.ScheduleAsync("waits", 1);
        await harness.Client.WaitForInstanceStartRecordAsync(id, cancellation: harness.Token);

        var ex = await Assert.ThrowsAsync<InstanceStateException>(() => harness.Client.PurgeInstanceAsync(id, cancellation: harness.Token));

        Assert.Equal(id, ex.InstanceId);
        Assert.Equal(OrchestrationRuntimeStatus.Running, ex.Status);
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await harness.Client.GetInstanceRecordAsync(id, cancellation: harness.Token))?.Status);
        Assert.NotEmpty(await harness.HistoryAsync(id));
    }

    [Fact]
    public async Task Purge_by_filter_removes_only_matching_terminal_instances()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var harness = await EngineHarness.StartAsync(Register, o => o.ClientTime = clock);
        var early = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            early.Add((await harness.RunAsync("ok", i, $"early-ok-{i}")).InstanceId);
        }

        early.Add((await harness.RunAsync("fails", 0, "early-failed")).InstanceId);
        clock.Advance(TimeSpan.FromHours(1));
        var lateOk = (await harness.RunAsync("ok", 9, "late-ok")).InstanceId;
        var running = await harness.ScheduleAsync("waits", 0, "early-running");
        await harness.Client.WaitForInstanceStartRecordAsync(running, cancellation: harness.Token);

        var purged = await harness.Client.PurgeAllInstancesAsync(
            new Microsoft.DurableTask.Client.PurgeInstancesFilter(null, clock.GetUtcNow(), [Microsoft.DurableTask.Client.OrchestrationRuntimeStatus.Completed]), cancellation: harness.Token);

        Assert.Equal(3, purged.PurgedInstanceCount);
        foreach (var id in early.Take(3))
        {
            Assert.Null(await harness.Client.GetInstanceRecordAsync(id, cancellation: harness.Token));
        }

        Assert.Equal(OrchestrationRuntimeStatus.Failed, (await harness.Client.GetInstanceRecordAsync("early-failed", cancellation: harness.Token))?.Status);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await harness.Client.GetInstanceRecordAsync(lateOk, cancellation: harness.Token))?.Status);
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await harness.Client.GetInstanceRecordAsync(running, cancellation: harness.Token))?.Status);

        // With no status filter every terminal instance goes, and the running one stays.
        var rest = await harness.Client.PurgeAllInstancesAsync(new Microsoft.DurableTask.Client.PurgeInstancesFilter(), cancellation: harness.Token);

        Assert.Equal(2, rest.PurgedInstanceCount);
        var left = await harness.Client.QueryInstanceRecordsAsync(new OrchestrationQuery(), harness.Token);
        Assert.Equal(["early-running"], left.Instances.Select(i => i.InstanceId));
    }

    [Fact]
    public async Task Purge_filter_with_a_non_terminal_status_is_rejected()
    {
        await using var harness = await EngineHarness.StartAsync(Register);

        var ex = await Assert.ThrowsAsync<ArgumentException>(() =>
            harness.Client.PurgeAllInstancesAsync(new Microsoft.DurableTask.Client.PurgeInstancesFilter(null, null, [Microsoft.DurableTask.Client.OrchestrationRuntimeStatus.Running]), cancellation: harness.Token));

        Assert.Contains("Running", ex.Message, StringComparison.Ordinal);
    }
}
