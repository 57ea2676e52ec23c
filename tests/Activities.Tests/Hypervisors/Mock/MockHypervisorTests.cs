using KataWorkflows.Activities.Hypervisors.Mock;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Tests.Hypervisors.Mock;

public sealed class MockHypervisorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Start_registers_a_running_vm_with_pid_0_and_a_second_start_returns_the_same_vm()
    {
        var hypervisor = new MockHypervisor();

        var first = await hypervisor.StartVmAsync("sb1", TestSandboxes.Config("sb1"), null, Ct);
        var second = await hypervisor.StartVmAsync("sb1", TestSandboxes.Config("sb1"), null, Ct);

        Assert.Equal("mock", first.HypervisorType);
        Assert.Equal(0, first.Pid);
        Assert.False(string.IsNullOrEmpty(first.Uuid));
        Assert.Equal(first, second);
        Assert.Equal(["sb1"], hypervisor.RunningVms);
    }

    [Fact]
    public async Task Start_validates_the_hypervisor_config_like_Kata_createSandbox_and_registers_nothing_when_invalid()
    {
        var hypervisor = new MockHypervisor();
        var config = new SandboxConfig { Id = "sb1", HypervisorType = "mock" };

        var ex = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() => hypervisor.StartVmAsync("sb1", config, null, Ct));

        Assert.Equal("Missing kernel path", ex.Message);
        Assert.Empty(hypervisor.RunningVms);
    }

    [Fact]
    public async Task Stop_removes_the_vm_and_stopping_an_unknown_vm_is_a_no_op()
    {
        var hypervisor = new MockHypervisor();
        var vm = await hypervisor.StartVmAsync("sb1", TestSandboxes.Config("sb1"), null, Ct);

        await hypervisor.StopVmAsync("sb1", vm, Ct);
        await hypervisor.StopVmAsync("sb1", vm, Ct);
        await hypervisor.StopVmAsync("never-started", null, Ct);

        Assert.Empty(hypervisor.RunningVms);
    }

    [Fact]
    public async Task Pause_and_resume_toggle_the_registered_vm_and_succeed_for_an_unknown_one()
    {
        var hypervisor = new MockHypervisor();
        await hypervisor.StartVmAsync("sb1", TestSandboxes.Config("sb1"), null, Ct);

        await hypervisor.PauseVmAsync("sb1", null, Ct);
        Assert.True(hypervisor.TryGetVm("sb1", out var paused) && paused.Paused);
        await hypervisor.ResumeVmAsync("sb1", null, Ct);
        Assert.True(hypervisor.TryGetVm("sb1", out var resumed) && !resumed.Paused);
        await hypervisor.PauseVmAsync("other", null, Ct);
        await hypervisor.CheckAsync("other", null, Ct);

        Assert.False(hypervisor.TryGetVm("other", out _));
    }

    [Fact]
    public async Task Registry_stays_consistent_under_concurrent_starts_and_stops()
    {
        var hypervisor = new MockHypervisor();
        var ids = Enumerable.Range(0, 200).Select(i => $"sb{i}").ToList();

        await Task.WhenAll(ids.Select(id => Task.Run(() => hypervisor.StartVmAsync(id, TestSandboxes.Config(id), null, Ct), Ct)));
        await Task.WhenAll(ids.Where((_, i) => i % 2 == 0).Select(id => Task.Run(() => hypervisor.StopVmAsync(id, null, Ct), Ct)));

        Assert.Equal(ids.Where((_, i) => i % 2 == 1).Order(), hypervisor.RunningVms.Order());
    }

    [Fact]
    public async Task Attaching_a_device_returns_it_as_given()
    {
        var hypervisor = new MockHypervisor();
        var device = new DeviceRecord { Id = "d1", HostPath = "/dev/loop0" };

        Assert.Equal(device, await hypervisor.AddDeviceAsync("sb1", device, 0, Ct));
    }

    [Fact]
    public async Task Interfaces_are_recorded_for_a_running_vm_once_each_and_forgotten_when_removed_or_stopped()
    {
        var hypervisor = new MockHypervisor();
        var vm = await hypervisor.StartVmAsync("sb1", TestSandboxes.Config("sb1"), null, Ct);
        var eth1 = new InterfaceRecord { Name = "eth1", HwAddr = "02:00:00:00:00:01", TapDevice = "tap1_kata" };
        var eth2 = new InterfaceRecord { Name = "eth2", HwAddr = "02:00:00:00:00:02" };

        Assert.Equal(eth1, await hypervisor.AddInterfaceAsync("sb1", vm, eth1, Ct));
        Assert.Equal(eth1, await hypervisor.AddInterfaceAsync("sb1", vm, eth1 with { Name = "renamed" }, Ct));
        await hypervisor.AddInterfaceAsync("sb1", vm, eth2, Ct);
        await hypervisor.AddInterfaceAsync("not-running", null, eth1, Ct);
        Assert.Equal([eth1, eth2], hypervisor.InterfacesOf("sb1"));
        Assert.Empty(hypervisor.InterfacesOf("not-running"));

        await hypervisor.RemoveInterfaceAsync("sb1", vm, new InterfaceRecord { HwAddr = "02:00:00:00:00:01".ToUpperInvariant() }, Ct);
        await hypervisor.RemoveInterfaceAsync("sb1", vm, eth1, Ct);
        Assert.Equal([eth2], hypervisor.InterfacesOf("sb1"));

        await hypervisor.StopVmAsync("sb1", vm, Ct);
        Assert.Empty(hypervisor.InterfacesOf("sb1"));
    }

    [Fact]
    public async Task Interfaces_survive_a_new_process_over_the_same_state_directory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "kwf-mock-nics-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = Microsoft.Extensions.Options.Options.Create(new KataWorkflows.Activities.Drivers.MockDriverOptions { StateDirectory = directory });
            var first = new MockHypervisor(options);
            var vm = await first.StartVmAsync("sb1", TestSandboxes.Config("sb1"), null, Ct);
            var eth1 = new InterfaceRecord { Name = "eth1", HwAddr = "02:00:00:00:00:01" };
            await first.AddInterfaceAsync("sb1", vm, eth1, Ct);

            var second = new MockHypervisor(options);
            Assert.Equal([(eth1.Name, eth1.HwAddr)], second.InterfacesOf("sb1").Select(i => (i.Name, i.HwAddr)));
            await second.StopVmAsync("sb1", vm, Ct);
            Assert.Empty(new MockHypervisor(options).InterfacesOf("sb1"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
