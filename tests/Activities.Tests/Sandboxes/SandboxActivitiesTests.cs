using KataWorkflows.Activities.Agents.Noop;
using KataWorkflows.Activities.Drivers;
using KataWorkflows.Activities.Faults;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.DependencyInjection;

namespace KataWorkflows.Activities.Tests.Sandboxes;

public sealed class SandboxActivitiesTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_steps_then_their_undo_steps_leave_nothing_behind()
    {
        using var services = TestServices.Create();
        var target = TestSandboxes.Target("sb1");
        var config = TestSandboxes.Config("sb1", "c1", "c2");

        var network = await services.RunAsync<NetworkState>(SandboxActivities.CreateNetwork, new NetworkRequest(target, config.NetworkConfig), Ct);
        var vm = await services.RunAsync<VmState>(SandboxActivities.StartVm, new VmRequest(target, config, network), Ct);
        var guest = await services.RunAsync<GuestDetails>(SandboxActivities.GetGuestDetails, new VmRequest(target, config, network, vm), Ct);
        var containers = await services.RunAsync<IReadOnlyList<ContainerRecord>>(SandboxActivities.CreateContainers, new ContainersRequest(target, config.Containers), Ct);
        var record = new SandboxRecord { Id = "sb1", Config = config, Network = network, Vm = vm, GuestDetails = guest, Containers = containers };
        Assert.True(await services.RunAsync<bool>(SandboxActivities.StoreSandbox, record, Ct));

        Assert.Equal(["sb1"], services.Hypervisor.RunningVms);
        Assert.Equal(["c1", "c2"], services.Agent.ContainersOf("sb1"));
        Assert.All(containers, c => Assert.Equal((SandboxState.Ready, 0, string.Empty), (c.State, c.Pid, c.Token)));
        Assert.True(services.Store.Exists("sb1"));

        Assert.True(await services.RunAsync<bool>(SandboxActivities.DeleteContainers, new ContainersRequest(target, config.Containers, Force: true), Ct));
        Assert.True(await services.RunAsync<bool>(SandboxActivities.StopVm, new VmRequest(target, config, network, vm, Force: true), Ct));
        Assert.True(await services.RunAsync<bool>(SandboxActivities.RemoveNetwork, new NetworkRequest(target, config.NetworkConfig, network, Force: true), Ct));
        Assert.True(await services.RunAsync<bool>(SandboxActivities.RemoveSandboxStore, new VmRequest(target, config), Ct));

        Assert.Empty(services.Hypervisor.RunningVms);
        Assert.Empty(services.Agent.Sandboxes);
        Assert.False(services.Store.Exists("sb1"));
    }

    [Fact]
    public async Task Every_undo_step_can_run_twice_or_without_its_step_having_run()
    {
        using var services = TestServices.Create();
        var target = TestSandboxes.Target("sb1");
        var config = TestSandboxes.Config("sb1", "c1");

        for (var i = 0; i < 2; i++)
        {
            Assert.True(await services.RunAsync<bool>(SandboxActivities.DeleteContainers, new ContainersRequest(target, config.Containers), Ct));
            Assert.True(await services.RunAsync<bool>(SandboxActivities.StopContainer, new ContainerRequest(target, "c1"), Ct));
            Assert.True(await services.RunAsync<bool>(SandboxActivities.StopVm, new VmRequest(target, config), Ct));
            Assert.True(await services.RunAsync<bool>(SandboxActivities.RemoveNetwork, new NetworkRequest(target, config.NetworkConfig, new NetworkState()), Ct));
            Assert.True(await services.RunAsync<bool>(SandboxActivities.RemoveNetwork, new NetworkRequest(target, config.NetworkConfig), Ct));
            Assert.True(await services.RunAsync<bool>(SandboxActivities.RemoveSandboxStore, new VmRequest(target, config), Ct));
        }
    }

    [Fact]
    public async Task Create_steps_run_twice_give_the_same_result_and_create_nothing_twice()
    {
        using var services = TestServices.Create();
        var request = TestSandboxes.Containers("sb1", false, "c1");

        var first = await services.RunAsync<IReadOnlyList<ContainerRecord>>(SandboxActivities.CreateContainers, request, Ct);
        var second = await services.RunAsync<IReadOnlyList<ContainerRecord>>(SandboxActivities.CreateContainers, request, Ct);
        var vm1 = await services.RunAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm("sb1"), Ct);
        var vm2 = await services.RunAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm("sb1"), Ct);

        Assert.Equal(first, second);
        Assert.Equal(["c1"], services.Agent.ContainersOf("sb1"));
        Assert.Equal(vm1, vm2);
    }

    [Fact]
    public async Task Force_skips_a_failing_driver_call_and_without_force_the_step_fails()
    {
        using var services = TestServices.Create("sandbox.removeNetwork:drivererror:1,container.stop:drivererror:1");
        var target = TestSandboxes.Target("sb1");
        var config = TestSandboxes.Config("sb1", "c1");
        await services.RunAsync<IReadOnlyList<ContainerRecord>>(SandboxActivities.CreateContainers, new ContainersRequest(target, config.Containers), Ct);

        Assert.True(await services.RunAsync<bool>(SandboxActivities.RemoveNetwork, new NetworkRequest(target, config.NetworkConfig, new NetworkState(), Force: true), Ct));
        Assert.True(await services.RunAsync<bool>(SandboxActivities.StopContainer, new ContainerRequest(target, "c1", Force: true), Ct));
        Assert.Equal(["c1"], services.Agent.ContainersOf("sb1"));

        using var strict = TestServices.Create("sandbox.removeNetwork:drivererror:1");
        var ex = await Assert.ThrowsAsync<InjectedFaultException>(() =>
            strict.RunAsync<bool>(SandboxActivities.RemoveNetwork, new NetworkRequest(target, config.NetworkConfig, new NetworkState()), Ct));
        Assert.Equal("injected driver error at sandbox.removeNetwork (1 of 1)", ex.Message);
    }

    [Fact]
    public async Task Force_does_not_skip_a_fail_rule_so_compensation_failures_can_be_tested()
    {
        using var services = TestServices.Create("sandbox.stopVM:fail:1");

        await Assert.ThrowsAsync<InjectedFaultException>(() =>
            services.RunAsync<bool>(SandboxActivities.StopVm, TestSandboxes.Vm("sb1", force: true), Ct));
        Assert.True(await services.RunAsync<bool>(SandboxActivities.StopVm, TestSandboxes.Vm("sb1", force: true), Ct));
    }

    [Fact]
    public async Task StopVm_stops_the_vm_even_when_the_agent_cannot_destroy_the_guest_sandbox()
    {
        using var services = TestServices.Create("sandbox.stopVM:drivererror:1");
        var vm = await services.RunAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm("sb1"), Ct);

        Assert.True(await services.RunAsync<bool>(SandboxActivities.StopVm, TestSandboxes.Vm("sb1", vm), Ct));

        Assert.Empty(services.Hypervisor.RunningVms);
    }

    [Fact]
    public async Task StartVm_that_fails_after_booting_stops_the_vm_before_failing()
    {
        using var services = TestServices.Create("sandbox.startVM:drivererror:1:after");

        await Assert.ThrowsAsync<InjectedFaultException>(() =>
            services.RunAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm("sb1"), Ct));

        Assert.Empty(services.Hypervisor.RunningVms);
        Assert.Empty(services.Agent.Sandboxes);
    }

    [Fact]
    public async Task CreateContainers_that_fails_part_way_removes_what_it_created()
    {
        using var services = TestServices.Create(configure: s => s.AddAgentDriver<SecondCreateFails>("noop"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => services.RunAsync<IReadOnlyList<ContainerRecord>>(
            SandboxActivities.CreateContainers, TestSandboxes.Containers("sb1", false, "c1", "c2", "c3"), Ct));

        Assert.Empty(services.Provider.GetRequiredService<SecondCreateFails>().ContainersOf("sb1"));
    }

    [Fact]
    public async Task A_sandbox_on_a_driver_this_host_lacks_fails_without_side_effects()
    {
        using var services = TestServices.Create();
        var target = new SandboxTarget("sb1", "qemu", "noop", "none");

        var ex = await Assert.ThrowsAsync<DriverUnavailableException>(() =>
            services.RunAsync<VmState>(SandboxActivities.StartVm, new VmRequest(target, TestSandboxes.Config("sb1")), Ct));

        Assert.Equal("hypervisor 'qemu' is not available on this host: no QEMU driver is configured", ex.Message);
        Assert.Empty(services.Agent.Sandboxes);
    }

    [Fact]
    public async Task Container_steps_reach_the_agent_and_check_their_inputs()
    {
        using var services = TestServices.Create();
        var target = TestSandboxes.Target("sb1");
        await services.RunAsync<IReadOnlyList<ContainerRecord>>(SandboxActivities.CreateContainers, TestSandboxes.Containers("sb1", false, "c1"), Ct);

        Assert.True(await services.RunAsync<bool>(SandboxActivities.StartContainer, new ContainerRequest(target, "c1"), Ct));
        Assert.True(await services.RunAsync<bool>(SandboxActivities.KillContainer, new ContainerRequest(target, "c1") { Signal = 15, All = true }, Ct));
        Assert.True(await services.RunAsync<bool>(SandboxActivities.PauseContainer, new ContainerRequest(target, "c1"), Ct));
        Assert.True(await services.RunAsync<bool>(SandboxActivities.ResumeContainer, new ContainerRequest(target, "c1"), Ct));
        Assert.True(await services.RunAsync<bool>(SandboxActivities.UpdateContainer, new ContainerRequest(target, "c1") { Resources = new ContainerResources { CpuQuota = 50_000 } }, Ct));
        var process = await services.RunAsync<ProcessInfo>(SandboxActivities.ExecProcess, new ContainerRequest(target, "c1") { Cmd = new Cmd { Args = ["/bin/ls"] } }, Ct);
        Assert.Equal(0, process.Pid);

        var noCmd = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() => services.RunAsync<ProcessInfo>(SandboxActivities.ExecProcess, new ContainerRequest(target, "c1"), Ct));
        Assert.Equal("cmd", noCmd.Field);
        var noResources = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() => services.RunAsync<bool>(SandboxActivities.UpdateContainer, new ContainerRequest(target, "c1"), Ct));
        Assert.Equal("resources", noResources.Field);

        Assert.True(await services.RunAsync<bool>(SandboxActivities.StopContainer, new ContainerRequest(target, "c1"), Ct));
        Assert.Empty(services.Agent.ContainersOf("sb1"));
    }

    [Fact]
    public async Task Network_and_device_steps_record_what_they_added()
    {
        using var services = TestServices.Create();
        var target = TestSandboxes.Target("sb1");
        var routes = new[] { new RouteRecord { Dest = "default", Gateway = "10.0.0.1", Device = "eth1" } };

        var added = await services.RunAsync<InterfaceRecord>(SandboxActivities.AddInterface, new InterfaceRequest(target, null, new InterfaceRecord { Name = "eth1" }), Ct);
        var applied = await services.RunAsync<IReadOnlyList<RouteRecord>>(SandboxActivities.UpdateRoutes, new RoutesRequest(target, routes), Ct);
        var device = await services.RunAsync<DeviceRecord>(SandboxActivities.AddDevice, new DeviceRequest(target, new DeviceRecord { Id = "d1", HostPath = "/dev/loop0" }, 0), Ct);

        Assert.False(string.IsNullOrEmpty(added.HwAddr));
        Assert.Equal([added], services.Network.InterfacesOf("sb1"));
        Assert.Equal([added], await services.Agent.ListInterfacesAsync("sb1", Ct));
        Assert.Equal(routes, applied);
        Assert.Equal("d1", device.Id);

        Assert.True(await services.RunAsync<bool>(SandboxActivities.RemoveInterface, new InterfaceRequest(target, null, added), Ct));
        Assert.Empty(services.Network.InterfacesOf("sb1"));
    }

    [Fact]
    public async Task AddInterface_plugs_the_NIC_into_the_running_VM_and_RemoveInterface_unplugs_it()
    {
        using var services = TestServices.Create();
        var target = TestSandboxes.Target("sb1");
        var vm = await services.RunAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm("sb1"), Ct);

        var added = await services.RunAsync<InterfaceRecord>(SandboxActivities.AddInterface, new InterfaceRequest(target, null, new InterfaceRecord { Name = "eth1" }, vm), Ct);
        Assert.Equal([added], services.Hypervisor.InterfacesOf("sb1"));
        Assert.Equal([added], await services.Agent.ListInterfacesAsync("sb1", Ct));

        Assert.True(await services.RunAsync<bool>(SandboxActivities.RemoveInterface, new InterfaceRequest(target, null, added, vm), Ct));
        Assert.Empty(services.Hypervisor.InterfacesOf("sb1"));
        Assert.Empty(services.Network.InterfacesOf("sb1"));
    }

    [Fact]
    public async Task Vm_pause_and_resume_reach_the_hypervisor()
    {
        using var services = TestServices.Create();
        var vm = await services.RunAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm("sb1"), Ct);

        await services.RunAsync<bool>(SandboxActivities.PauseVm, TestSandboxes.Vm("sb1", vm), Ct);
        Assert.True(services.Hypervisor.TryGetVm("sb1", out var paused) && paused.Paused);
        await services.RunAsync<bool>(SandboxActivities.ResumeVm, TestSandboxes.Vm("sb1", vm), Ct);
        Assert.True(services.Hypervisor.TryGetVm("sb1", out var resumed) && !resumed.Paused);
    }

    [Fact]
    public async Task CreateContainers_whose_driver_fails_after_creating_removes_the_container()
    {
        using var services = TestServices.Create("sandbox.createContainers:drivererror:1:after");

        await Assert.ThrowsAsync<InjectedFaultException>(() => services.RunAsync<IReadOnlyList<ContainerRecord>>(
            SandboxActivities.CreateContainers, TestSandboxes.Containers("sb1", false, "c1"), Ct));

        Assert.Empty(services.Agent.ContainersOf("sb1"));
    }

    private sealed class SecondCreateFails(TimeProvider time) : DelegatingAgent(new NoopAgent(time))
    {
        private int _creates;

        public IReadOnlyList<string> ContainersOf(string sandboxId) => ((NoopAgent)Inner).ContainersOf(sandboxId);

        public override Task<ProcessInfo> CreateContainerAsync(string sandboxId, ContainerConfig container, CancellationToken cancellationToken) =>
            Interlocked.Increment(ref _creates) == 2
                ? throw new InvalidOperationException("the guest ran out of memory")
                : base.CreateContainerAsync(sandboxId, container, cancellationToken);
    }
}
