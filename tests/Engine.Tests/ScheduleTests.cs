using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Tests.Harness;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;
using StartOrchestrationOptions = Microsoft.DurableTask.StartOrchestrationOptions;

namespace KataWorkflows.Engine.Tests;

public sealed class ScheduleTests
{
    private static void Register(DurableTaskRegistry r)
    {
        r.AddOrchestratorFunc<string, string>("echo", (ctx, input) =>
        {
            ctx.SetCustomStatus(new { seen = input });
            return Task.FromResult($"echo {input}");
        });
        r.AddOrchestratorFunc<string, string>("hold", (ctx, input) => ctx.WaitForExternalEvent<string>("release"));
        r.AddOrchestratorFunc<string?, DateTime>("clock", (ctx, _) => Task.FromResult(ctx.CurrentUtcDateTime));
    }

    [Fact]
    public async Task Explicit_instance_id_is_used_as_given()
    {
        await using var harness = await EngineHarness.StartAsync(Register);

        var id = await harness.ScheduleAsync("echo", "x", "order-42");
        var done = await harness.WaitForCompletionAsync(id);

        Assert.Equal("order-42", id);
        Assert.Equal("order-42", done.InstanceId);
        Assert.Equal("echo", done.Name);
        Assert.Equal("echo x", done.Output<string>());
    }

    [Fact]
    public async Task Generated_instance_ids_sort_in_the_order_the_instances_were_scheduled()
    {
        // Time-ordered ids (UUIDv7) put the rows of instances that run together side by side in the store's indexes.
        await using var harness = await EngineHarness.StartAsync(Register);
        var ids = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            ids.Add(await harness.Client.ScheduleNewOrchestrationInstanceAsync("echo", $"{i}", cancellation: harness.Token));
        }

        Assert.Equal(ids, ids.Order(StringComparer.Ordinal));
        Assert.All(ids, id => Assert.Matches("^[0-9a-f]{32}$", id));
        Assert.Equal(ids.Count, ids.Distinct().Count());
        foreach (var id in ids)
        {
            await harness.WaitForCompletionAsync(id);
        }
    }

    [Fact]
    public async Task Id_in_use_by_a_running_instance_is_refused_with_OrchestrationAlreadyExistsException()
    {
        await using var harness = await EngineHarness.StartAsync(Register);
        await harness.ScheduleAsync("hold", "first", "busy");
        var running = await harness.Client.WaitForInstanceStartRecordAsync("busy", getInputsAndOutputs: true, harness.Token);

        var conflict = await Assert.ThrowsAsync<DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException>(() =>
            harness.Client.ScheduleNewOrchestrationInstanceAsync(
                "echo", "second", new StartOrchestrationOptions { InstanceId = "busy", DedupeStatuses = [] }, harness.Token));

        var ex = Assert.IsType<InstanceAlreadyExistsException>(conflict.InnerException);
        Assert.Equal("busy", ex.InstanceId);
        Assert.Equal(OrchestrationRuntimeStatus.Running, ex.Status);
        var still = await harness.Client.GetInstanceRecordAsync("busy", getInputsAndOutputs: true, harness.Token);
        Assert.Equal("hold", still?.Name);
        Assert.Equal(running.ExecutionId, still?.ExecutionId);
        Assert.Equal("\"first\"", still?.SerializedInput);
    }

    [Fact]
    public async Task Terminal_instance_is_replaced_only_when_its_status_is_not_deduped()
    {
        await using var harness = await EngineHarness.StartAsync(Register);
        var first = await harness.RunAsync("echo", "one", "reused");

        var conflict = await Assert.ThrowsAsync<DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException>(() => harness.ScheduleAsync("echo", "two", "reused"));
        Assert.Equal(OrchestrationRuntimeStatus.Completed, Assert.IsType<InstanceAlreadyExistsException>(conflict.InnerException).Status);
        Assert.Equal(first, await harness.Client.GetInstanceRecordAsync("reused", getInputsAndOutputs: true, harness.Token));

        await harness.Client.ScheduleNewOrchestrationInstanceAsync(
            "echo", "two", new StartOrchestrationOptions { InstanceId = "reused", DedupeStatuses = [] }, harness.Token);
        var second = await harness.WaitForInstanceAsync("reused", m => m.IsTerminal && m.ExecutionId != first.ExecutionId, "to finish its second run");

        Assert.Equal("echo two", second.Output<string>());
        var history = await harness.HistoryAsync("reused");
        Assert.Equal("\"two\"", history[history.IndexOf(Kind.ExecutionStarted)].ExecutionStarted.Input);
        Assert.Equal(1, history.Count(Kind.ExecutionStarted));
        Assert.Empty(await harness.HistoryAsync("reused", first.ExecutionId));
    }

    [Fact]
    public async Task Start_in_the_future_stays_Pending_until_then()
    {
        await using var harness = await EngineHarness.StartAsync(Register);
        var startAt = DateTimeOffset.UtcNow.AddMilliseconds(500);

        var id = await harness.Client.ScheduleNewOrchestrationInstanceAsync("clock", null, new StartOrchestrationOptions { StartAt = startAt }, harness.Token);
        var pending = await harness.Client.GetInstanceRecordAsync(id, cancellation: harness.Token);
        var started = await harness.Client.WaitForInstanceStartRecordAsync(id, cancellation: harness.Token);
        var done = await harness.WaitForCompletionAsync(id);

        Assert.Equal(OrchestrationRuntimeStatus.Pending, pending?.Status);
        Assert.Equal(startAt.UtcDateTime, pending?.ScheduledStartAt);
        Assert.NotEqual(OrchestrationRuntimeStatus.Pending, started.Status);
        Assert.True(done.Output<DateTime>() >= startAt.UtcDateTime, $"ran at {done.Output<DateTime>():o}, before {startAt:o}");
        var history = await harness.HistoryAsync(id);
        Assert.True(history[0].Timestamp.ToDateTime() >= startAt.UtcDateTime);
        Assert.Equal(startAt.UtcDateTime, history[history.IndexOf(Kind.ExecutionStarted)].ExecutionStarted.ScheduledStartTimestamp.ToDateTime());
    }

    [Fact]
    public async Task Get_instance_returns_payloads_only_when_asked()
    {
        await using var harness = await EngineHarness.StartAsync(Register);
        var done = await harness.RunAsync("echo", "in", "payloads");

        var without = await harness.Client.GetInstanceRecordAsync("payloads", getInputsAndOutputs: false, harness.Token);
        var with = await harness.Client.GetInstanceRecordAsync("payloads", getInputsAndOutputs: true, harness.Token);

        Assert.NotNull(without);
        Assert.NotNull(with);
        Assert.Null(without.SerializedInput);
        Assert.Null(without.SerializedOutput);
        Assert.Null(without.SerializedCustomStatus);
        Assert.Equal("\"in\"", with.SerializedInput);
        Assert.Equal("\"echo in\"", with.SerializedOutput);
        Assert.Equal("{\"seen\":\"in\"}", with.SerializedCustomStatus);
        Assert.Equal(with.WithoutPayloads(), without);
        Assert.Null(await harness.Client.GetInstanceRecordAsync("no-such-instance", cancellation: harness.Token));
    }

    [Fact]
    public async Task Restart_under_the_same_id_runs_again_with_the_original_input()
    {
        await using var harness = await EngineHarness.StartAsync(Register);
        var first = await harness.RunAsync("echo", "again", "restartable");

        var id = await harness.Client.RestartAsync("restartable", restartWithNewInstanceId: false, harness.Token);
        var second = await harness.WaitForInstanceAsync(id, m => m.IsTerminal && m.ExecutionId != first.ExecutionId, "to finish its restart");

        Assert.Equal("restartable", id);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, second.Status);
        Assert.Equal("\"again\"", second.SerializedInput);
        Assert.Equal("echo again", second.Output<string>());
    }

    [Fact]
    public async Task Restart_with_a_new_id_leaves_the_original_and_starts_a_copy()
    {
        await using var harness = await EngineHarness.StartAsync(Register);
        var first = await harness.RunAsync("echo", "copy me", "original");

        var id = await harness.Client.RestartAsync("original", restartWithNewInstanceId: true, harness.Token);
        var copy = await harness.WaitForCompletionAsync(id);

        Assert.NotEqual("original", id);
        Assert.Equal("echo", copy.Name);
        Assert.Equal("\"copy me\"", copy.SerializedInput);
        Assert.Equal("echo copy me", copy.Output<string>());
        Assert.Equal(first, await harness.Client.GetInstanceRecordAsync("original", getInputsAndOutputs: true, harness.Token));
    }

    [Fact]
    public async Task Restart_of_a_running_instance_under_the_same_id_throws_InstanceStateException()
    {
        await using var harness = await EngineHarness.StartAsync(Register);
        await harness.ScheduleAsync("hold", "x", "still-running");
        await harness.Client.WaitForInstanceStartRecordAsync("still-running", cancellation: harness.Token);

        var ex = await Assert.ThrowsAsync<InstanceStateException>(() => harness.Client.RestartAsync("still-running", false, harness.Token));

        Assert.Equal(OrchestrationRuntimeStatus.Running, ex.Status);
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => harness.Client.RestartAsync("never-existed", false, harness.Token));
    }

    [Fact]
    public async Task Wait_for_start_returns_once_the_instance_runs()
    {
        await using var harness = await EngineHarness.StartAsync(Register);
        var id = await harness.ScheduleAsync("hold", "x");

        var started = await harness.Client.WaitForInstanceStartRecordAsync(id, getInputsAndOutputs: true, harness.Token);

        Assert.Equal(OrchestrationRuntimeStatus.Running, started.Status);
        Assert.Equal("\"x\"", started.SerializedInput);
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => harness.Client.WaitForInstanceStartRecordAsync("nobody", cancellation: harness.Token));
    }
}
