using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Tests.Harness;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

public sealed class CleanupContainerTests
{
    [Fact]
    public async Task CleanupContainer_stops_and_deletes_a_container_and_the_last_one_takes_the_sandbox_with_it()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1", "c2"));

        var first = await h.CallAsync(Ops.CleanupContainer, TestSandboxes.Container("sb1", "c1"));

        Assert.Equal(SandboxState.Running, first.Sandbox!.State);
        Assert.Equal(["c2"], first.Sandbox.Containers.Select(c => c.Id));
        Assert.Equal(["c2"], h.Agent.ContainersOf("sb1"));
        Assert.False(Directory.Exists(h.Files.ContainerDirectory("sb1", "c1")));
        Assert.Equal(["sb1"], h.Hypervisor.RunningVms);

        var last = await h.CallAsync(Ops.CleanupContainer, TestSandboxes.Container("sb1", "c2"));

        Assert.Null(last.Sandbox);
        await h.AssertNothingLeftAsync("sb1");
    }

    [Fact]
    public async Task CleanupContainer_of_an_unknown_container_is_NotFound_without_force_and_goes_on_with_it()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));

        var ex = await h.CallFailsAsync(Ops.CleanupContainer, TestSandboxes.Container("sb1", "zz"));
        var forced = await h.CallAsync(Ops.CleanupContainer, TestSandboxes.Container("sb1", "zz", force: true));

        Assert.Equal(SandboxErrorKind.NotFound, ex.Kind);
        Assert.Equal(["c1"], forced.Sandbox!.Containers.Select(c => c.Id));
        Assert.Equal(["sb1"], h.Hypervisor.RunningVms);
    }

    [Fact]
    public async Task CleanupContainer_with_force_on_a_sandbox_without_containers_deletes_it()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1"));

        var result = await h.CallAsync(Ops.CleanupContainer, TestSandboxes.Container("sb1", "gone", force: true));

        Assert.Null(result.Sandbox);
        await h.AssertNothingLeftAsync("sb1");
    }

    [Fact]
    public async Task CleanupContainer_with_force_goes_on_when_the_agent_fails_to_remove_the_container()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
        h.Calls.Fail("agent.removeContainer sb1 c1");

        var refused = await h.CallFailsAsync(Ops.CleanupContainer, TestSandboxes.Container("sb1", "c1"));
        Assert.Equal(SandboxErrorKind.Failed, refused.Kind);
        Assert.Equal(SandboxState.Running, (await h.RequireRecordAsync("sb1")).FindContainer("c1")!.State);

        var result = await h.CallAsync(Ops.CleanupContainer, TestSandboxes.Container("sb1", "c1", force: true));

        Assert.Null(result.Sandbox);
        var entity = await h.UnlockedEntityAsync("sb1");
        Assert.Null(entity?.SerializedState);
        Assert.False(h.Files.Exists("sb1"));
        Assert.Empty(h.Hypervisor.RunningVms);
    }
}
