using KataWorkflows.Activities.Networks.None;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Tests.Networks.None;

public sealed class NoneNetworkTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_keeps_the_vm_in_the_host_namespace()
    {
        var network = new NoneNetwork();

        var state = await network.CreateAsync("sb1", new NetworkConfig { InterworkingModel = "none", NetNsPath = "/var/run/netns/x" }, Ct);

        Assert.Equal(string.Empty, state.NetNsPath);
        Assert.False(state.NetNsCreated);
        Assert.Empty(state.Endpoints);
    }

    [Fact]
    public async Task An_interface_without_a_mac_gets_a_stable_locally_administered_unicast_one()
    {
        var network = new NoneNetwork();
        var eth1 = new InterfaceRecord { Name = "eth1", IpAddresses = ["10.1.0.2/24"] };

        var first = await network.AddInterfaceAsync("sb1", null, eth1, Ct);
        var again = await network.AddInterfaceAsync("sb1", null, eth1, Ct);

        Assert.Matches("^([0-9a-f]{2}:){5}[0-9a-f]{2}$", first.HwAddr);
        var firstOctet = Convert.ToByte(first.HwAddr[..2], 16);
        Assert.Equal(0x02, firstOctet & 0x03);
        Assert.Equal(first, again);
        Assert.Equal(eth1 with { HwAddr = first.HwAddr }, first);
        Assert.Single(network.InterfacesOf("sb1"));
        Assert.NotEqual(first.HwAddr, NoneNetwork.LocalMac("sb2", "eth1"));
    }

    [Fact]
    public async Task An_interface_with_a_mac_is_recorded_as_given_and_removal_is_idempotent()
    {
        var network = new NoneNetwork();
        var eth1 = new InterfaceRecord { Name = "eth1", HwAddr = "02:42:ac:11:00:02" };

        Assert.Equal(eth1, await network.AddInterfaceAsync("sb1", null, eth1, Ct));
        await network.RemoveInterfaceAsync("sb1", null, eth1 with { HwAddr = "02:42:AC:11:00:02" }, Ct);
        await network.RemoveInterfaceAsync("sb1", null, eth1, Ct);

        Assert.Empty(network.InterfacesOf("sb1"));
    }

    [Fact]
    public async Task Remove_forgets_the_sandbox_interfaces_and_can_run_twice()
    {
        var network = new NoneNetwork();
        var state = await network.CreateAsync("sb1", new NetworkConfig(), Ct);
        await network.AddInterfaceAsync("sb1", state, new InterfaceRecord { Name = "eth1" }, Ct);

        await network.RemoveAsync("sb1", state, Ct);
        await network.RemoveAsync("sb1", state, Ct);

        Assert.Empty(network.InterfacesOf("sb1"));
    }
}
