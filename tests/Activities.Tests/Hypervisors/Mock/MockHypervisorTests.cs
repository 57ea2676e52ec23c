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
}
