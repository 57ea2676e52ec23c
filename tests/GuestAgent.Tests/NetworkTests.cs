using Grpc.Core;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Agent.Types;

namespace KataWorkflows.GuestAgent.Tests;

[Collection(GuestVmGroup.Name)]
public sealed class NetworkTests(GuestVm vm)
{
    [Fact]
    public async Task UpdateInterface_and_UpdateRoutes_change_what_ListInterfaces_and_ListRoutes_return()
    {
        vm.RequireGuest();
        var before = await vm.AgentAsync("ListInterfaces", new ListInterfacesRequest(), Interfaces.Parser);
        Assert.Contains(before.Interfaces_, i => i.Name == "lo" && i.IPAddresses.Any(a => a.Address == "127.0.0.1"));
        var nic = Assert.Single(before.Interfaces_, i => i.HwAddr == GuestVm.NicMac);

        var wanted = new Interface { Name = "eth7", HwAddr = GuestVm.NicMac, Mtu = 1400 };
        wanted.IPAddresses.Add(new IPAddress { Family = IPFamily.V4, Address = "192.0.2.10", Mask = "24" });
        var updated = await vm.AgentAsync("UpdateInterface", new UpdateInterfaceRequest { Interface = wanted }, Interface.Parser);
        Assert.Equal("eth7", updated.Name);
        Assert.Equal(1400UL, updated.Mtu);

        var after = await vm.AgentAsync("ListInterfaces", new ListInterfacesRequest(), Interfaces.Parser);
        var eth7 = Assert.Single(after.Interfaces_, i => i.HwAddr == GuestVm.NicMac);
        Assert.NotEqual(nic.Name, eth7.Name);
        Assert.Equal("eth7", eth7.Name);
        Assert.Equal(1400UL, eth7.Mtu);
        Assert.Contains(eth7.IPAddresses, a => a.Address == "192.0.2.10" && a.Mask == "24" && a.Family == IPFamily.V4);
        Assert.True((eth7.RawFlags & 1) == 1, "the link is up (IFF_UP)");

        // As Kata's runtime sends them: every route of the endpoint, its link route (scope link) included.
        var routes = new Routes();
        routes.Routes_.Add(new Route { Dest = "", Gateway = "192.0.2.1", Device = "eth7" });
        routes.Routes_.Add(new Route { Dest = "192.0.2.0/24", Device = "eth7", Source = "192.0.2.10", Scope = 253 });
        routes.Routes_.Add(new Route { Dest = "198.51.100.0/24", Gateway = "192.0.2.254", Device = "eth7" });
        var result = await vm.AgentAsync("UpdateRoutes", new UpdateRoutesRequest { Routes = routes }, Routes.Parser);
        Assert.Contains(result.Routes_, r => r.Dest == "" && r.Gateway == "192.0.2.1" && r.Device == "eth7");

        var listed = await vm.AgentAsync("ListRoutes", new ListRoutesRequest(), Routes.Parser);
        Assert.Contains(listed.Routes_, r => r.Dest == "" && r.Gateway == "192.0.2.1" && r.Device == "eth7");
        Assert.Contains(listed.Routes_, r => r.Dest == "198.51.100.0/24" && r.Gateway == "192.0.2.254");
        Assert.Contains(listed.Routes_, r => r.Dest == "192.0.2.0/24" && r.Device == "eth7" && r.Source == "192.0.2.10");
    }

    [Fact]
    public async Task UpdateInterface_for_a_MAC_the_guest_does_not_have_is_NotFound()
    {
        vm.RequireGuest();
        var error = await Agent.FailsAsync(() => vm.AgentAsync("UpdateInterface",
            new UpdateInterfaceRequest { Interface = new Interface { Name = "eth9", HwAddr = "02:00:00:00:00:99" } }, Interface.Parser));
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Contains("02:00:00:00:00:99", error.StatusMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_agent_answers_Version_and_GetGuestDetails()
    {
        vm.RequireGuest();
        var version = await vm.CallAsync("grpc.Health", "Version", new CheckRequest(), VersionCheckResponse.Parser);
        Assert.Equal("0.0.1", version.GrpcVersion);
        Assert.False(string.IsNullOrEmpty(version.AgentVersion));
        var details = await vm.AgentAsync("GetGuestDetails", new GuestDetailsRequest { MemBlockSize = true, MemHotplugProbe = true }, GuestDetailsResponse.Parser);
        Assert.Contains("9p", details.AgentDetails.StorageHandlers);
        Assert.True(details.MemBlockSizeBytes > 0);
        TestContext.Current.SendDiagnosticMessage($"guest booted to the agent's first answer in {vm.BootSeconds:F1} s");
    }
}
