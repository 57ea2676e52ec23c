using Grpc.Core;
using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.GuestAgent.Tests;

/// <summary>The guest's links and routes, read and changed through the host's Kata agent driver.</summary>
[Collection(GuestVmGroup.Name)]
public sealed class NetworkTests(GuestVm vm)
{
    private const string Sb = GuestVm.SandboxId;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task UpdateInterface_and_UpdateRoutes_change_what_ListInterfaces_and_ListRoutes_return()
    {
        vm.RequireGuest();
        var before = await vm.Agent.ListInterfacesAsync(Sb, Ct);
        Assert.Contains(before, i => i.Name == "lo" && i.IpAddresses.Contains("127.0.0.1/8"));
        var nic = Assert.Single(before, i => i.HwAddr == GuestVm.NicMac);

        var wanted = new InterfaceRecord { Name = "eth7", HwAddr = GuestVm.NicMac, Mtu = 1400, IpAddresses = ["192.0.2.10/24"] };
        var updated = await vm.Agent.UpdateInterfaceAsync(Sb, wanted, Ct);
        Assert.Equal("eth7", updated.Name);
        Assert.Equal(1400, updated.Mtu);

        var eth7 = Assert.Single(await vm.Agent.ListInterfacesAsync(Sb, Ct), i => i.HwAddr == GuestVm.NicMac);
        Assert.NotEqual(nic.Name, eth7.Name);
        Assert.Equal("eth7", eth7.Name);
        Assert.Equal(1400, eth7.Mtu);
        Assert.Contains("192.0.2.10/24", eth7.IpAddresses);

        // As Kata's runtime sends them: every route of the endpoint, its link route (scope link) included.
        RouteRecord[] routes =
        [
            new() { Dest = string.Empty, Gateway = "192.0.2.1", Device = "eth7" },
            new() { Dest = "192.0.2.0/24", Device = "eth7", Source = "192.0.2.10", Scope = 253 },
            new() { Dest = "198.51.100.0/24", Gateway = "192.0.2.254", Device = "eth7" },
        ];
        var applied = await vm.Agent.UpdateRoutesAsync(Sb, routes, Ct);
        Assert.Contains(applied, r => r.Dest == string.Empty && r.Gateway == "192.0.2.1" && r.Device == "eth7");

        var listed = await vm.Agent.ListRoutesAsync(Sb, Ct);
        Assert.Contains(listed, r => r.Dest == string.Empty && r.Gateway == "192.0.2.1" && r.Device == "eth7");
        Assert.Contains(listed, r => r.Dest == "198.51.100.0/24" && r.Gateway == "192.0.2.254");
        Assert.Contains(listed, r => r.Dest == "192.0.2.0/24" && r.Device == "eth7" && r.Source == "192.0.2.10");
    }

    [Fact]
    public async Task UpdateInterface_for_a_MAC_the_guest_does_not_have_is_NotFound()
    {
        vm.RequireGuest();
        var error = await Agent.FailsAsync(() => vm.Agent.UpdateInterfaceAsync(Sb, new InterfaceRecord { Name = "eth9", HwAddr = "02:00:00:00:00:99" }, Ct));
        Assert.IsType<KataAgentRejectedException>(error);
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Contains("02:00:00:00:00:99", error.AgentMessage(), StringComparison.Ordinal);
    }
}
