using System.Text.Json;
using Grpc.Core;
using KataWorkflows.Host.Tests.Harness;
using KataWorkflows.Protocol.V1;
using static KataWorkflows.Host.Tests.Harness.Requests;

namespace KataWorkflows.Host.Tests;

/// <summary>Every Sandboxes call over the Unix socket, on the real host with the SQLite store.</summary>
public sealed class SandboxesLifecycleTests
{
    [Fact]
    public async Task Every_sandbox_and_container_call_succeeds_over_the_unix_socket()
    {
        await using var host = await TestHost.StartAsync();
        var api = host.Sandboxes;
        var ct = host.Token;

        var created = await api.CreateSandboxAsync(Create("sb1", "c1"), cancellationToken: ct);
        Assert.StartsWith("CreateSandbox:sb1:", created.InstanceId, StringComparison.Ordinal);
        Assert.Equal(("Completed", "Ready"), (created.Status, SandboxState(created)));
        Assert.Equal("Ready", State((await api.StatusSandboxAsync(new SandboxRef { SandboxId = "sb1" }, cancellationToken: ct)).StatusJson));
        Assert.Equal("Ready", State((await api.StatusContainerAsync(new SandboxRef { SandboxId = "sb1", ContainerId = "c1" }, cancellationToken: ct)).StatusJson));

        Assert.Equal("Running", SandboxState(await api.StartSandboxAsync(Call("sb1"), cancellationToken: ct)));
        var list = await api.ListSandboxAsync(new ListRequest(), cancellationToken: ct);
        Assert.Equal(["sb1"], list.SandboxesJson.Select(j => JsonDocument.Parse(j).RootElement.GetProperty("id").GetString()));

        var stats = JsonDocument.Parse((await api.StatsSandboxAsync(new SandboxRef { SandboxId = "sb1" }, cancellationToken: ct)).StatsJson).RootElement;
        Assert.Equal("c1", stats.GetProperty("containers")[0].GetProperty("containerId").GetString());
        var containerStats = JsonDocument.Parse((await api.StatsContainerAsync(new SandboxRef { SandboxId = "sb1", ContainerId = "c1" }, cancellationToken: ct)).StatsJson).RootElement;
        Assert.Equal(JsonValueKind.Object, containerStats.GetProperty("stats").ValueKind);
        var ps = await api.ProcessListContainerAsync(new SandboxRef { SandboxId = "sb1", ContainerId = "c1" }, cancellationToken: ct);
        Assert.Equal(JsonValueKind.Array, JsonDocument.Parse(ps.ProcessesJson).RootElement.ValueKind);

        await api.AddInterfaceAsync(Call("sb1", new { @interface = new { name = "eth1", hwAddr = "02:00:00:00:00:01", ipAddresses = new[] { "10.0.0.2/24" } } }), cancellationToken: ct);
        var interfaces = JsonDocument.Parse((await api.ListInterfacesAsync(new SandboxRef { SandboxId = "sb1" }, cancellationToken: ct)).Json).RootElement;
        Assert.Contains(interfaces.EnumerateArray(), i => i.GetProperty("name").GetString() == "eth1");
        await api.UpdateRoutesAsync(Call("sb1", new { routes = new[] { new { dest = "10.1.0.0/16", gateway = "10.0.0.1", device = "eth1" } } }), cancellationToken: ct);
        var routes = JsonDocument.Parse((await api.ListRoutesAsync(new SandboxRef { SandboxId = "sb1" }, cancellationToken: ct)).Json).RootElement;
        Assert.Contains(routes.EnumerateArray(), r => r.GetProperty("dest").GetString() == "10.1.0.0/16");
        await api.RemoveInterfaceAsync(Call("sb1", new { @interface = new { hwAddr = "02:00:00:00:00:01" } }), cancellationToken: ct);
        await api.AddDeviceAsync(Call("sb1", new { device = new { id = "d1", hostPath = "/dev/loop0" } }), cancellationToken: ct);

        await api.CreateContainerAsync(Call("sb1", new { container = Container("c2") }), cancellationToken: ct);
        Assert.Equal("Running", ContainerState(await api.StartContainerAsync(OnContainer("sb1", "c2"), cancellationToken: ct), "c2"));
        await api.UpdateContainerAsync(OnContainer("sb1", "c2", new { resources = new { cpuQuota = 50_000 } }), cancellationToken: ct);
        Assert.Equal("Paused", ContainerState(await api.PauseContainerAsync(OnContainer("sb1", "c2"), cancellationToken: ct), "c2"));
        Assert.Equal("Running", ContainerState(await api.ResumeContainerAsync(OnContainer("sb1", "c2"), cancellationToken: ct), "c2"));
        var entered = await api.EnterContainerAsync(OnContainer("sb1", "c2", new { cmd = new { args = new[] { "/bin/ls" } } }), cancellationToken: ct);
        Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(entered.ResultJson).RootElement.GetProperty("process").ValueKind);
        await api.KillContainerAsync(OnContainer("sb1", "c2", new { signal = 15 }), cancellationToken: ct);
        Assert.Equal("Stopped", ContainerState(await api.StopContainerAsync(OnContainer("sb1", "c2"), cancellationToken: ct), "c2"));
        var deleted = await api.DeleteContainerAsync(OnContainer("sb1", "c2"), cancellationToken: ct);
        Assert.DoesNotContain(JsonDocument.Parse(deleted.ResultJson).RootElement.GetProperty("sandbox").GetProperty("containers").EnumerateArray(), c => c.GetProperty("id").GetString() == "c2");

        Assert.Equal("Paused", SandboxState(await api.PauseSandboxAsync(Call("sb1"), cancellationToken: ct)));
        Assert.Equal("Running", SandboxState(await api.ResumeSandboxAsync(Call("sb1"), cancellationToken: ct)));
        Assert.Equal("Stopped", SandboxState(await api.StopSandboxAsync(Call("sb1"), cancellationToken: ct)));
        await api.DeleteSandboxAsync(Call("sb1"), cancellationToken: ct);
        var gone = await Assert.ThrowsAsync<RpcException>(async () => await api.StatusSandboxAsync(new SandboxRef { SandboxId = "sb1" }, cancellationToken: ct));
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);

        Assert.Equal("Running", SandboxState(await api.RunSandboxAsync(Create("sb2", "c1"), cancellationToken: ct)));
        await api.CleanupContainerAsync(OnContainer("sb2", "c1"), cancellationToken: ct);
        var cleaned = await Assert.ThrowsAsync<RpcException>(async () => await api.StatusSandboxAsync(new SandboxRef { SandboxId = "sb2" }, cancellationToken: ct));
        Assert.Equal(StatusCode.NotFound, cleaned.StatusCode);
    }

    [Fact]
    public async Task A_retried_request_id_joins_the_first_run_and_no_wait_returns_at_once()
    {
        await using var host = await TestHost.StartAsync();
        var call = Call("sb1", new { config = Config("sb1") }, wait: false, requestId: "req-1");

        var first = await host.Sandboxes.CreateSandboxAsync(call, cancellationToken: host.Token);
        var again = await host.Sandboxes.CreateSandboxAsync(call, cancellationToken: host.Token);

        Assert.Equal("CreateSandbox:sb1:req-1", first.InstanceId);
        Assert.Equal(first.InstanceId, again.InstanceId);
        Assert.Equal((string.Empty, string.Empty), (first.Status, first.ResultJson));
        var done = await host.Sidecar.WaitForInstanceCompletionAsync(
            new Microsoft.DurableTask.Protobuf.GetInstanceRequest { InstanceId = first.InstanceId }, cancellationToken: host.Token);
        Assert.Equal(Microsoft.DurableTask.Protobuf.OrchestrationStatus.Completed, done.OrchestrationState.OrchestrationStatus);
    }

    [Fact]
    public async Task WatchRun_streams_each_step_then_the_outcome()
    {
        await using var host = await TestHost.StartAsync();
        var started = await host.Sandboxes.CreateSandboxAsync(Call("sb1", new { config = Config("sb1", "c1") }, wait: false), cancellationToken: host.Token);

        var events = await WatchAsync(host, started.InstanceId);

        var steps = events.Where(e => e.Kind == "step_started").Select(e => e.Name).ToList();
        Assert.Contains("sandbox.startVM", steps);
        Assert.Equal(steps, events.Where(e => e.Kind == "step_completed").Select(e => e.Name));
        Assert.All(events.Where(e => e.Kind == "step_completed"), e => Assert.True(e.DurationMs >= 0));
        Assert.Equal("run_completed", events[^1].Kind);
        Assert.DoesNotContain(events, e => e.Kind.StartsWith("compensation", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_compensated_create_is_Aborted_with_the_failure_and_WatchRun_marks_the_undo()
    {
        await using var host = await TestHost.StartAsync("--KataWorkflows:Faults:Spec=sandbox.getGuestDetails:fail:1:sandbox=sb-bad");

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await host.Sandboxes.CreateSandboxAsync(Call("sb-bad", new { config = Config("sb-bad", "c1") }, requestId: "r1"), cancellationToken: host.Token));

        Assert.Equal(StatusCode.Aborted, ex.StatusCode);
        Assert.Equal(["kwf-failure-bin"], ex.Trailers.Select(t => t.Key).Where(k => k.StartsWith("kwf-", StringComparison.Ordinal)));
        var failure = Failure(ex);
        Assert.Equal(("Compensated", "CreateSandbox:sb-bad:r1"), (failure.Kind, failure.InstanceId));
        Assert.NotNull(failure.Failure);

        var events = await WatchAsync(host, "CreateSandbox:sb-bad:r1");
        Assert.Contains(events, e => e.Kind == "step_failed" && e.Name == "sandbox.getGuestDetails" && e.Detail.Length > 0);
        var undo = events.Where(e => e.Kind == "compensation_started").Select(e => e.Name).ToList();
        Assert.Contains("sandbox.stopVM", undo);
        Assert.Contains("sandbox.removeNetwork", undo);
        Assert.Equal(("run_failed", "Compensated"), (events[^1].Kind, events[^1].Name));
    }

    [Fact]
    public async Task WatchRun_of_an_unknown_run_is_NotFound_and_of_an_empty_id_InvalidArgument()
    {
        await using var host = await TestHost.StartAsync();

        var missing = await Assert.ThrowsAsync<RpcException>(() => WatchAsync(host, "CreateSandbox:nope:x"));
        var empty = await Assert.ThrowsAsync<RpcException>(() => WatchAsync(host, string.Empty));

        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
    }

    internal static async Task<List<RunEvent>> WatchAsync(TestHost host, string instanceId)
    {
        using var call = host.Sandboxes.WatchRun(new WatchRunRequest { InstanceId = instanceId }, cancellationToken: host.Token);
        var events = new List<RunEvent>();
        await foreach (var e in call.ResponseStream.ReadAllAsync(host.Token))
        {
            events.Add(e);
        }

        return events;
    }

    private static string ContainerState(CallResult result, string containerId) =>
        JsonDocument.Parse(result.ResultJson).RootElement.GetProperty("sandbox").GetProperty("containers").EnumerateArray()
            .Single(c => c.GetProperty("id").GetString() == containerId).GetProperty("state").GetString()!;

    private static string State(string json) => JsonDocument.Parse(json).RootElement.GetProperty("state").GetString()!;
}
