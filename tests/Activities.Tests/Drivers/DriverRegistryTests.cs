using KataWorkflows.Activities.Agents.Noop;
using KataWorkflows.Activities.Drivers;
using KataWorkflows.Activities.Hypervisors;
using KataWorkflows.Activities.Hypervisors.Mock;
using KataWorkflows.Activities.Networks.None;
using KataWorkflows.Engine;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.DependencyInjection;

namespace KataWorkflows.Activities.Tests.Drivers;

public sealed class DriverRegistryTests
{
    [Fact]
    public void Mock_noop_and_none_resolve_to_the_singletons_registered_by_AddSandboxDrivers()
    {
        using var services = TestServices.Create();
        var drivers = services.Provider.GetRequiredService<IDriverResolver>();

        Assert.Same(services.Hypervisor, drivers.GetHypervisor("mock"));
        Assert.Same(services.Agent, drivers.GetAgent("noop"));
        Assert.Same(services.Network, drivers.GetNetwork("none"));
        Assert.Same(services.Hypervisor, drivers.GetHypervisor("MOCK"));
    }

    [Theory]
    [InlineData(DriverKind.Hypervisor, "qemu", "hypervisor 'qemu' is not available on this host: no QEMU driver is configured")]
    [InlineData(DriverKind.Agent, "kata", "agent 'kata' is not available on this host: no Kata agent driver is configured")]
    [InlineData(DriverKind.Network, "tcfilter", "network interworking model 'tcfilter' is not available on this host: no tcfilter network driver is configured")]
    [InlineData(DriverKind.Network, "macvtap", "network interworking model 'macvtap' is not available on this host: no macvtap network driver is configured")]
    [InlineData(DriverKind.Hypervisor, "firecracker", "hypervisor 'firecracker' is not available on this host: no driver is registered under that name (registered: mock)")]
    public void Drivers_this_host_lacks_fail_with_a_message_that_says_what_is_missing(DriverKind kind, string name, string message)
    {
        using var services = TestServices.Create();
        var drivers = services.Provider.GetRequiredService<IDriverResolver>();

        var ex = Assert.Throws<DriverUnavailableException>(() => kind switch
        {
            DriverKind.Hypervisor => drivers.GetHypervisor(name),
            DriverKind.Agent => drivers.GetAgent(name),
            _ => (object)drivers.GetNetwork(name),
        });

        Assert.Equal(message, ex.Message);
        Assert.Equal((kind, name), (ex.Kind, ex.Name));
    }

    [Fact]
    public void A_missing_driver_is_a_non_retriable_failure()
    {
        var ex = new DriverUnavailableException(DriverKind.Hypervisor, "qemu", "no");

        Assert.IsAssignableFrom<INonRetriable>(ex);
        Assert.True(FailureDetails.FromException(ex).IsNonRetriable);
    }

    [Fact]
    public void A_later_registration_of_a_name_replaces_the_driver_and_new_names_can_be_added()
    {
        using var services = TestServices.Create(configure: s => s.AddHypervisorDriver<OtherHypervisor>("mock").AddHypervisorDriver<OtherHypervisor>("qemu"));
        var drivers = services.Provider.GetRequiredService<IDriverResolver>();

        Assert.IsType<OtherHypervisor>(drivers.GetHypervisor("mock"));
        Assert.IsType<OtherHypervisor>(drivers.GetHypervisor("qemu"));
        Assert.Equal(["mock", "qemu"], ((DriverRegistry)drivers).Names(DriverKind.Hypervisor));
        Assert.IsType<NoopAgent>(drivers.GetAgent("noop"));
        Assert.IsType<NoneNetwork>(drivers.GetNetwork("none"));
    }

    private sealed class OtherHypervisor : IHypervisor
    {
        private readonly MockHypervisor _inner = new();

        public Task<VmState> StartVmAsync(string sandboxId, SandboxConfig config, NetworkState? network, CancellationToken cancellationToken) =>
            _inner.StartVmAsync(sandboxId, config, network, cancellationToken);

        public Task StopVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken) => _inner.StopVmAsync(sandboxId, vm, cancellationToken);

        public Task PauseVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken) => _inner.PauseVmAsync(sandboxId, vm, cancellationToken);

        public Task ResumeVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken) => _inner.ResumeVmAsync(sandboxId, vm, cancellationToken);

        public Task CheckAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken) => _inner.CheckAsync(sandboxId, vm, cancellationToken);

        public Task<DeviceRecord> AddDeviceAsync(string sandboxId, DeviceRecord device, int blockIndex, CancellationToken cancellationToken) =>
            _inner.AddDeviceAsync(sandboxId, device, blockIndex, cancellationToken);

        public Task<InterfaceRecord> AddInterfaceAsync(string sandboxId, VmState? vm, InterfaceRecord iface, CancellationToken cancellationToken) =>
            _inner.AddInterfaceAsync(sandboxId, vm, iface, cancellationToken);

        public Task RemoveInterfaceAsync(string sandboxId, VmState? vm, InterfaceRecord iface, CancellationToken cancellationToken) =>
            _inner.RemoveInterfaceAsync(sandboxId, vm, iface, cancellationToken);
    }
}
