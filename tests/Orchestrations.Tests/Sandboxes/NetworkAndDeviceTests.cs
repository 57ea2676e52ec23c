using KataWorkflows.Activities.Networks.None;
using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Tests.Harness;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

/// <summary>AddDevice, AddInterface, RemoveInterface and UpdateRoutes.</summary>
public sealed class NetworkAndDeviceTests
{
    private static readonly InterfaceRecord Eth1 = new() { Name = "eth1", IpAddresses = ["10.0.0.2/24"], Mtu = 1400 };

    private static async Task<SandboxHarness> RunningAsync()
    {
        var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
        return h;
    }

    private static async Task<SandboxCallException> RefusedAsync(SandboxHarness h, string operation, Orchestrations.Sandboxes.SandboxRequest request, SandboxErrorKind kind)
    {
        var before = await h.RequireRecordAsync("sb1");
        var ex = await h.CallFailsAsync(operation, request);
        Assert.Equal(kind, ex.Kind);
        Assert.Equal(before, await h.RequireRecordAsync("sb1"), SandboxRecordComparer.Instance);
        return ex;
    }

    [Fact]
    public async Task AddDevice_attaches_block_devices_with_the_next_free_index()
    {
        await using var h = await RunningAsync();

        var first = await h.CallAsync(Ops.AddDevice, TestSandboxes.Sandbox("sb1") with { Device = new DeviceRecord { Id = "d1", HostPath = "/dev/loop0" } });
        await h.CallAsync(Ops.AddDevice, TestSandboxes.Sandbox("sb1") with { Device = new DeviceRecord { Id = "tty", HostPath = "/dev/tty1", DevType = "c" } });
        await h.CallAsync(Ops.AddDevice, TestSandboxes.Sandbox("sb1") with { Device = new DeviceRecord { Id = "d2", HostPath = "/dev/loop1" } });

        Assert.Equal("d1", first.Device!.Id);
        var record = await h.RequireRecordAsync("sb1");
        Assert.Equal(["d1", "tty", "d2"], record.Devices.Select(d => d.Id));
        Assert.Equal(new Dictionary<string, int> { ["d1"] = 0, ["d2"] = 1 }, record.BlockIndexMap);
        Assert.Equal(["hypervisor.addDevice sb1 d1 index=0", "hypervisor.addDevice sb1 tty index=1", "hypervisor.addDevice sb1 d2 index=1"], h.Calls.Of("sb1", "hypervisor.addDevice"));
        Assert.Equal(1, (await h.Files.ReadAsync("sb1", h.Token))!.HypervisorState!.BlockIndexMap["d2"]);
    }

    [Fact]
    public async Task AddDevice_refuses_a_duplicate_and_a_malformed_device()
    {
        await using var h = await RunningAsync();
        await h.CallAsync(Ops.AddDevice, TestSandboxes.Sandbox("sb1") with { Device = new DeviceRecord { Id = "d1", HostPath = "/dev/loop0" } });

        var duplicate = await RefusedAsync(h, Ops.AddDevice, TestSandboxes.Sandbox("sb1") with { Device = new DeviceRecord { Id = "d1", HostPath = "/dev/loop1" } }, SandboxErrorKind.AlreadyExists);
        var relative = await RefusedAsync(h, Ops.AddDevice, TestSandboxes.Sandbox("sb1") with { Device = new DeviceRecord { Id = "d2", HostPath = "dev/loop1" } }, SandboxErrorKind.InvalidArgument);
        var type = await RefusedAsync(h, Ops.AddDevice, TestSandboxes.Sandbox("sb1") with { Device = new DeviceRecord { Id = "d2", HostPath = "/dev/x", DevType = "z" } }, SandboxErrorKind.InvalidArgument);
        var none = await RefusedAsync(h, Ops.AddDevice, TestSandboxes.Sandbox("sb1"), SandboxErrorKind.InvalidArgument);

        Assert.Equal("Device d1 already exists", duplicate.Message);
        Assert.StartsWith("device.hostPath must be an absolute path", relative.Message, StringComparison.Ordinal);
        Assert.StartsWith("device.devType must be b, c or u", type.Message, StringComparison.Ordinal);
        Assert.Equal("A device is required", none.Message);
        Assert.Single(h.Calls.Of("sb1", "hypervisor.addDevice"));
    }

    [Fact]
    public async Task AddInterface_hot_plugs_a_NIC_with_a_derived_MAC_and_configures_it_in_the_guest()
    {
        await using var h = await RunningAsync();

        var result = await h.CallAsync(Ops.AddInterface, TestSandboxes.Sandbox("sb1") with { Interface = Eth1 });

        var mac = NoneNetwork.LocalMac("sb1", "eth1");
        Assert.Equal(mac, result.Interface!.HwAddr);
        Assert.Equal([mac], (await h.RequireRecordAsync("sb1")).Network!.Endpoints.Select(e => e.HwAddr));
        Assert.Equal([mac], h.Network.InterfacesOf("sb1").Select(i => i.HwAddr));
        Assert.Equal([("eth1", 1400)], (await h.Agent.ListInterfacesAsync("sb1", h.Token)).Select(i => (i.Name, i.Mtu)));
        Assert.Equal($"agent.updateInterface sb1 eth1 {mac}", h.Calls.Of("sb1", "agent.updateInterface")[^1]);
        Assert.Equal([mac], h.Hypervisor.InterfacesOf("sb1").Select(i => i.HwAddr));

        // Kata's order: the endpoint, then the hypervisor's hot-plug, then the guest.
        var calls = h.Calls.Of("sb1").ToList();
        Assert.True(calls.IndexOf($"hypervisor.addInterface sb1 {mac}") < calls.LastIndexOf($"agent.updateInterface sb1 eth1 {mac}"), string.Join("\n", calls));
    }

    [Fact]
    public async Task AddInterface_whose_guest_step_fails_unplugs_the_NIC_and_removes_the_endpoint()
    {
        await using var h = await RunningAsync();
        h.Calls.Fail("agent.updateInterface", 1);

        var ex = await h.CallFailsAsync(Ops.AddInterface, TestSandboxes.Sandbox("sb1") with { Interface = Eth1 });

        var mac = NoneNetwork.LocalMac("sb1", "eth1");
        Assert.Contains("armed driver failure", ex.Message, StringComparison.Ordinal);
        Assert.Equal([$"hypervisor.addInterface sb1 {mac}", $"hypervisor.removeInterface sb1 {mac}"], h.Calls.Of("sb1", "hypervisor.").Where(c => c.Contains("Interface", StringComparison.Ordinal)));
        Assert.Empty(h.Hypervisor.InterfacesOf("sb1"));
        Assert.Empty(h.Network.InterfacesOf("sb1"));
        Assert.Empty((await h.RequireRecordAsync("sb1")).Network?.Endpoints ?? []);
    }

    [Fact]
    public async Task AddInterface_refuses_duplicates_bad_values_and_a_stopped_sandbox()
    {
        await using var h = await RunningAsync();
        await h.CallAsync(Ops.AddInterface, TestSandboxes.Sandbox("sb1") with { Interface = Eth1 });

        var name = await RefusedAsync(h, Ops.AddInterface, TestSandboxes.Sandbox("sb1") with { Interface = Eth1 with { HwAddr = "02:00:00:00:00:09" } }, SandboxErrorKind.AlreadyExists);
        var mac = await RefusedAsync(
            h, Ops.AddInterface, TestSandboxes.Sandbox("sb1") with { Interface = Eth1 with { Name = "eth2", HwAddr = NoneNetwork.LocalMac("sb1", "eth1").ToUpperInvariant() } }, SandboxErrorKind.AlreadyExists);
        var mtu = await RefusedAsync(h, Ops.AddInterface, TestSandboxes.Sandbox("sb1") with { Interface = Eth1 with { Name = "eth2", Mtu = 10 } }, SandboxErrorKind.InvalidArgument);
        var address = await RefusedAsync(h, Ops.AddInterface, TestSandboxes.Sandbox("sb1") with { Interface = Eth1 with { Name = "eth2", IpAddresses = ["10.0.0.300/24"] } }, SandboxErrorKind.InvalidArgument);
        await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));
        var stopped = await RefusedAsync(h, Ops.AddInterface, TestSandboxes.Sandbox("sb1") with { Interface = Eth1 with { Name = "eth2" } }, SandboxErrorKind.FailedPrecondition);

        Assert.Equal("An interface named eth1 already exists", name.Message);
        Assert.StartsWith("An interface with MAC", mac.Message, StringComparison.Ordinal);
        Assert.StartsWith("interface.mtu must be between 68 and 65535", mtu.Message, StringComparison.Ordinal);
        Assert.StartsWith("interface.ipAddresses[0]", address.Message, StringComparison.Ordinal);
        Assert.StartsWith("Sandbox not ready or running, impossible to add an interface", stopped.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RemoveInterface_removes_the_NIC_by_MAC_and_an_unknown_MAC_is_not_an_error()
    {
        await using var h = await RunningAsync();
        var added = (await h.CallAsync(Ops.AddInterface, TestSandboxes.Sandbox("sb1") with { Interface = Eth1 })).Interface!;

        var unknown = await h.CallAsync(Ops.RemoveInterface, TestSandboxes.Sandbox("sb1") with { Interface = new InterfaceRecord { HwAddr = "02:aa:bb:cc:dd:ee" } });
        var removed = await h.CallAsync(Ops.RemoveInterface, TestSandboxes.Sandbox("sb1") with { Interface = new InterfaceRecord { HwAddr = added.HwAddr.ToUpperInvariant() } });

        Assert.Null(unknown.Interface);
        Assert.Equal("No interface with MAC 02:aa:bb:cc:dd:ee: nothing removed", unknown.Note);
        Assert.Equal(added.HwAddr, removed.Interface!.HwAddr);
        Assert.Null(removed.Note);
        Assert.Empty((await h.RequireRecordAsync("sb1")).Network!.Endpoints);
        Assert.Empty(h.Network.InterfacesOf("sb1"));
        Assert.Empty(h.Hypervisor.InterfacesOf("sb1"));
        Assert.Equal([$"hypervisor.removeInterface sb1 {added.HwAddr}"], h.Calls.Of("sb1", "hypervisor.removeInterface"));
    }

    [Fact]
    public async Task RemoveInterface_needs_a_MAC()
    {
        await using var h = await RunningAsync();

        var ex = await RefusedAsync(h, Ops.RemoveInterface, TestSandboxes.Sandbox("sb1") with { Interface = new InterfaceRecord { Name = "eth1" } }, SandboxErrorKind.InvalidArgument);

        Assert.Equal("interface.hwAddr is required to remove an interface", ex.Message);
    }

    [Fact]
    public async Task UpdateRoutes_replaces_the_guests_routes()
    {
        await using var h = await RunningAsync();
        IReadOnlyList<RouteRecord> routes =
        [
            new RouteRecord { Dest = "10.1.0.0/16", Gateway = "10.0.0.1", Device = "eth1" },
            new RouteRecord { Dest = "default", Gateway = "10.0.0.254", Device = "eth1" },
        ];

        var result = await h.CallAsync(Ops.UpdateRoutes, TestSandboxes.Sandbox("sb1") with { Routes = routes });
        await h.CallAsync(Ops.UpdateRoutes, TestSandboxes.Sandbox("sb1") with { Routes = routes.Take(1).ToList() });

        Assert.Equal(routes, result.Routes);
        Assert.Equal(routes.Take(1), (await h.RequireRecordAsync("sb1")).Routes);
        Assert.Equal(routes.Take(1), await h.Agent.ListRoutesAsync("sb1", h.Token));
        Assert.Equal(["agent.updateRoutes sb1 2", "agent.updateRoutes sb1 1"], h.Calls.Of("sb1", "agent.updateRoutes"));
    }

    [Fact]
    public async Task UpdateRoutes_refuses_bad_routes_and_a_stopped_sandbox()
    {
        await using var h = await RunningAsync();

        var gateway = await RefusedAsync(h, Ops.UpdateRoutes, TestSandboxes.Sandbox("sb1") with { Routes = [new RouteRecord { Gateway = "nope", Device = "eth0" }] }, SandboxErrorKind.InvalidArgument);
        var device = await RefusedAsync(h, Ops.UpdateRoutes, TestSandboxes.Sandbox("sb1") with { Routes = [new RouteRecord { Dest = "10.0.0.0/8" }] }, SandboxErrorKind.InvalidArgument);
        var missing = await RefusedAsync(h, Ops.UpdateRoutes, TestSandboxes.Sandbox("sb1"), SandboxErrorKind.InvalidArgument);
        await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));
        var stopped = await RefusedAsync(h, Ops.UpdateRoutes, TestSandboxes.Sandbox("sb1") with { Routes = [] }, SandboxErrorKind.FailedPrecondition);

        Assert.StartsWith("routes[0].gateway is not an IP address", gateway.Message, StringComparison.Ordinal);
        Assert.Equal("routes[0].device is required", device.Message);
        Assert.StartsWith("routes are required", missing.Message, StringComparison.Ordinal);
        Assert.StartsWith("Sandbox not ready or running, impossible to update routes", stopped.Message, StringComparison.Ordinal);
        Assert.Empty(h.Calls.Of("sb1", "agent.updateRoutes"));
    }
}
