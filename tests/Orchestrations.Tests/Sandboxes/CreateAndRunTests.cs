using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;
using KataWorkflows.Orchestrations.Tests.Harness;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

public sealed class CreateAndRunTests
{
    [Fact]
    public async Task CreateSandbox_makes_a_ready_sandbox_with_its_VM_guest_containers_and_run_directory()
    {
        await using var h = await SandboxHarness.StartAsync();

        var result = await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1", "c2"), "r1");

        Assert.Equal(SandboxState.Ready, result.Sandbox!.State);
        Assert.Equal([("c1", SandboxState.Ready), ("c2", SandboxState.Ready)], result.Sandbox.Containers.Select(c => (c.Id, c.State)));
        Assert.Equal(("mock", "noop"), (result.Sandbox.Hypervisor, result.Sandbox.Agent));

        var record = await h.RequireRecordAsync("sb1");
        Assert.Equal(SandboxState.Ready, record.State);
        Assert.NotNull(record.Network);
        Assert.Equal("mock", record.Vm!.HypervisorType);
        Assert.NotNull(record.GuestDetails);
        Assert.Null(record.PendingOperation);
        Assert.Null(record.CleanupReason);
        Assert.Equal(["CreateSandbox:sb1:r1"], record.Operations);
        Assert.Equal(2048, record.Config.HypervisorConfig.MemorySizeMiB);
        Assert.Null((await h.UnlockedEntityAsync("sb1"))!.LockedBy);

        Assert.True(h.Hypervisor.TryGetVm("sb1", out var vm));
        Assert.Equal(record.Vm.Uuid, vm.Uuid);
        Assert.Contains("sb1", h.Agent.Sandboxes);
        Assert.Equal(["c1", "c2"], h.Agent.ContainersOf("sb1"));
        Assert.Equal(
            ["hypervisor.startVM sb1", "agent.createSandbox sb1", "agent.getGuestDetails sb1", "agent.createContainer sb1 c1", "agent.createContainer sb1 c2", "store.write sb1 ready"],
            h.Calls.Of("sb1"));
        var persisted = await h.Files.ReadAsync("sb1", h.Token);
        Assert.Equal("ready", persisted!.State);
        Assert.Equal("ready", (await h.Files.ReadContainerAsync("sb1", "c2", h.Token))!.State);

        var history = await h.HistoryAsync("CreateSandbox:sb1:r1");
        Assert.Equal(
            [Contracts.SandboxActivities.CreateNetwork, Contracts.SandboxActivities.StartVm, Contracts.SandboxActivities.GetGuestDetails,
             Contracts.SandboxActivities.CreateContainers, Contracts.SandboxActivities.StoreSandbox],
            history.Scheduled());
        Assert.Equal(["get", "put", "put"], history.EntityCalls());
    }

    [Fact]
    public async Task RunSandbox_creates_and_starts_the_sandbox_and_its_containers()
    {
        await using var h = await SandboxHarness.StartAsync();

        var result = await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));

        Assert.Equal(SandboxState.Running, result.Sandbox!.State);
        Assert.Equal(SandboxState.Running, Assert.Single(result.Sandbox.Containers).State);
        var record = await h.RequireRecordAsync("sb1");
        Assert.Equal(SandboxState.Running, record.State);
        Assert.Null(record.PendingOperation);
        Assert.Equal(["sb1"], h.Hypervisor.RunningVms);
        Assert.Equal(["c1"], h.Agent.ContainersOf("sb1"));
        Assert.Contains("agent.startContainer sb1 c1", h.Calls.Of("sb1"));
        Assert.Equal("running", (await h.Files.ReadAsync("sb1", h.Token))!.State);
        Assert.Equal("running", (await h.Files.ReadContainerAsync("sb1", "c1", h.Token))!.State);
    }

    [Theory]
    [InlineData(Ops.CreateSandbox)]
    [InlineData(Ops.RunSandbox)]
    public async Task Creating_a_sandbox_that_exists_is_AlreadyExists_and_changes_nothing(string operation)
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
        var before = await h.RequireRecordAsync("sb1");
        var calls = h.Calls.All.Count;

        var ex = await h.CallFailsAsync(operation, TestSandboxes.Create("sb1", "other"));

        Assert.Equal(SandboxErrorKind.AlreadyExists, ex.Kind);
        Assert.Equal("sandbox sb1 exists", ex.Message);
        Assert.Equal(before, await h.RequireRecordAsync("sb1"), SandboxRecordComparer.Instance);
        Assert.Equal(calls, h.Calls.All.Count);
        Assert.Equal(["c1"], h.Agent.ContainersOf("sb1"));
    }

    [Fact]
    public async Task A_config_with_duplicated_containers_is_refused_before_anything_is_scheduled()
    {
        await using var h = await SandboxHarness.StartAsync();

        var ex = await h.CallFailsAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "x", "x"));

        Assert.Equal(SandboxErrorKind.InvalidArgument, ex.Kind);
        Assert.Equal("Duplicated container: x", ex.Message);
        Assert.Empty(await h.InstancesAsync());
    }

    [Fact]
    public async Task A_config_without_a_kernel_is_refused_before_anything_is_scheduled()
    {
        await using var h = await SandboxHarness.StartAsync();
        var request = TestSandboxes.Create("sb1") with { Config = TestSandboxes.Config("sb1") with { HypervisorConfig = new HypervisorConfig { ImagePath = "/i" } } };

        var ex = await h.CallFailsAsync(Ops.RunSandbox, request);

        Assert.Equal(SandboxErrorKind.InvalidArgument, ex.Kind);
        Assert.Equal("Missing kernel path", ex.Message);
        Assert.Empty(await h.InstancesAsync());
    }

    [Fact]
    public async Task The_same_request_id_twice_joins_one_run_that_starts_one_VM()
    {
        await using var h = await SandboxHarness.StartAsync();
        var request = TestSandboxes.Create("sb1", "c1");

        var ids = await Task.WhenAll(
            Task.Run(() => h.Sandboxes.StartAsync(Ops.RunSandbox, request, "req-1", h.Token)),
            Task.Run(() => h.Sandboxes.StartAsync(Ops.RunSandbox, request, "req-1", h.Token)));
        var first = await h.Sandboxes.WaitAsync(ids[0], h.Token);
        var again = await h.CallAsync(Ops.RunSandbox, request, "req-1");

        Assert.Equal("RunSandbox:sb1:req-1", ids[0]);
        Assert.Equal(ids[0], ids[1]);
        Assert.Equal(SandboxRecordComparer.Json(first), SandboxRecordComparer.Json(again));
        Assert.Equal(["RunSandbox:sb1:req-1"], (await h.InstancesAsync()).Select(i => i.InstanceId));
        Assert.Equal(["sb1"], h.Hypervisor.RunningVms);
        Assert.Single(h.Calls.Of("sb1", "hypervisor.startVM"));
        Assert.Single(h.Calls.Of("sb1", "agent.startContainer"));
    }

    [Fact]
    public async Task A_different_request_id_is_a_new_call()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1"), "a");

        var ex = await h.CallFailsAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1"), "b");

        Assert.Equal(SandboxErrorKind.AlreadyExists, ex.Kind);
        Assert.Equal("CreateSandbox:sb1:b", ex.InstanceId);
        Assert.Single(h.Calls.Of("sb1", "hypervisor.startVM"));
    }
}
