using System.Text.Json;
using Grpc.Core;
using KataWorkflows.Host.Tests.Harness;
using KataWorkflows.Protocol.V1;
using static KataWorkflows.Host.Tests.Harness.Requests;

namespace KataWorkflows.Host.Tests;

/// <summary>Kata's semantics as a gRPC client sees them: a SIGKILL that never fails, and the process list's preconditions.</summary>
public sealed class SandboxesKataSemanticsTests
{
    [Fact]
    public async Task SIGKILL_to_a_stopped_container_completes_with_a_note_while_SIGTERM_is_FailedPrecondition()
    {
        await using var host = await TestHost.StartAsync();
        await host.Sandboxes.RunSandboxAsync(Create("sb1", "c1", "c2"), cancellationToken: host.Token);
        await host.Sandboxes.StopContainerAsync(OnContainer("sb1", "c1"), cancellationToken: host.Token);

        var killed = await host.Sandboxes.KillContainerAsync(OnContainer("sb1", "c1", new { signal = 9, all = true }), cancellationToken: host.Token);
        var term = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Sandboxes.KillContainerAsync(OnContainer("sb1", "c1", new { signal = 15 }), cancellationToken: host.Token));
        var running = await host.Sandboxes.KillContainerAsync(OnContainer("sb1", "c2", new { signal = 9 }), cancellationToken: host.Token);

        Assert.Equal("Completed", killed.Status);
        Assert.Equal(
            "SIGKILL not sent: Container not ready, running or paused, impossible to signal the container (container c1 is stopped)",
            Note(killed));
        Assert.Equal(
            (StatusCode.FailedPrecondition, "Container not ready, running or paused, impossible to signal the container (container c1 is stopped)"),
            (term.StatusCode, term.Status.Detail));
        Assert.Equal("FailedPrecondition", Failure(term).Kind);
        Assert.StartsWith("KillContainer:sb1:", Failure(term).InstanceId, StringComparison.Ordinal);
        Assert.Equal(("Completed", null), (running.Status, Note(running)));
    }

    [Fact]
    public async Task SIGKILL_in_a_paused_or_stopped_sandbox_completes_and_an_unknown_container_is_still_NotFound()
    {
        await using var host = await TestHost.StartAsync();
        await host.Sandboxes.RunSandboxAsync(Create("sb1", "c1"), cancellationToken: host.Token);
        await host.Sandboxes.PauseSandboxAsync(Call("sb1"), cancellationToken: host.Token);

        var paused = await host.Sandboxes.KillContainerAsync(OnContainer("sb1", "c1", new { signal = 9 }), cancellationToken: host.Token);
        await host.Sandboxes.StopSandboxAsync(Call("sb1"), cancellationToken: host.Token);
        var stopped = await host.Sandboxes.KillContainerAsync(OnContainer("sb1", "c1", new { signal = 9 }), cancellationToken: host.Token);
        var unknown = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Sandboxes.KillContainerAsync(OnContainer("sb1", "zz", new { signal = 9 }), cancellationToken: host.Token));

        Assert.Equal(
            "SIGKILL not sent: Sandbox not ready or running, impossible to signal the container (sandbox sb1 is paused)", Note(paused));
        Assert.Equal(
            "SIGKILL not sent: Sandbox not ready or running, impossible to signal the container (sandbox sb1 is stopped)", Note(stopped));
        Assert.Equal("Stopped", SandboxState(stopped));
        Assert.Equal((StatusCode.NotFound, "Container does not exist: zz"), (unknown.StatusCode, unknown.Status.Detail));
    }

    [Fact]
    public async Task ProcessList_of_a_container_that_is_not_running_or_in_a_sandbox_that_is_not_is_FailedPrecondition_with_Katas_message()
    {
        await using var host = await TestHost.StartAsync();
        var api = host.Sandboxes;
        await api.RunSandboxAsync(Create("sb1", "c1"), cancellationToken: host.Token);
        await api.CreateContainerAsync(Call("sb1", new { container = Container("c2") }), cancellationToken: host.Token);

        var running = await api.ProcessListContainerAsync(Ref("sb1", "c1"), cancellationToken: host.Token);
        var ready = await Assert.ThrowsAsync<RpcException>(async () => await api.ProcessListContainerAsync(Ref("sb1", "c2"), cancellationToken: host.Token));
        await api.PauseSandboxAsync(Call("sb1"), cancellationToken: host.Token);
        var paused = await Assert.ThrowsAsync<RpcException>(async () => await api.ProcessListContainerAsync(Ref("sb1", "c1"), cancellationToken: host.Token));
        var stats = await Assert.ThrowsAsync<RpcException>(async () => await api.StatsContainerAsync(Ref("sb1", "c1"), cancellationToken: host.Token));
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await api.ProcessListContainerAsync(Ref("sb1", "zz"), cancellationToken: host.Token));

        Assert.Equal(JsonValueKind.Array, JsonDocument.Parse(running.ProcessesJson).RootElement.ValueKind);
        Assert.Equal(
            (StatusCode.FailedPrecondition, "Container not running, impossible to list processes (container c2 is ready)"),
            (ready.StatusCode, ready.Status.Detail));
        Assert.Equal(
            (StatusCode.FailedPrecondition, "Sandbox not running, impossible to ps the container (sandbox sb1 is paused)"),
            (paused.StatusCode, paused.Status.Detail));
        Assert.Equal(("FailedPrecondition", string.Empty), (Failure(paused).Kind, Failure(paused).InstanceId));
        Assert.Equal(
            (StatusCode.FailedPrecondition, "Sandbox not running, impossible to stats the container (sandbox sb1 is paused)"),
            (stats.StatusCode, stats.Status.Detail));
        Assert.Equal((StatusCode.NotFound, "Container does not exist: zz"), (unknown.StatusCode, unknown.Status.Detail));
        await SandboxesErrorTests.AssertServingAsync(host);
    }

    private static SandboxRef Ref(string sandboxId, string containerId) => new() { SandboxId = sandboxId, ContainerId = containerId };

    private static string? Note(CallResult result) =>
        JsonDocument.Parse(result.ResultJson).RootElement.TryGetProperty("note", out var note) && note.ValueKind == JsonValueKind.String ? note.GetString() : null;
}
