using System.Net;
using System.Net.Sockets;
using System.Text;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Netns.Tests;

/// <summary>The tcfilter driver on real namespaces, veth pairs, taps and tc filters, read back from the kernel.</summary>
public sealed class TcFilterNetworkTests : NetnsTest
{
    [Fact]
    public async Task Create_makes_a_netns_with_eth0_holding_the_address_a_tap_with_the_mtu_ingress_qdiscs_and_both_redirects()
    {
        var driver = Host.Driver();

        var state = await driver.CreateAsync("sb1", new NetworkConfig(), Ct);

        var netns = Host.NetnsPrefix + "sb1";
        Assert.Equal([netns], Host.Namespaces());
        Assert.Equal(("/run/netns/" + netns, true), (state.NetNsPath, state.NetNsCreated));
        var (hostAddress, guestAddress) = Host.SubnetAddresses(0);
        var endpoint = Assert.Single(state.Endpoints);
        Assert.Equal(("eth0", "eth0", "tap0_kata", "veth", 1400), (endpoint.Device, endpoint.Name, endpoint.TapDevice, endpoint.LinkType, endpoint.Mtu));
        Assert.Equal([guestAddress], endpoint.IpAddresses);

        var links = await NetnsHost.LinksAsync(netns);
        Assert.Equal(["eth0", "lo", "tap0_kata"], links.Keys.Order());
        var eth0 = links["eth0"];
        Assert.Equal("veth", eth0.GetProperty("linkinfo").GetProperty("info_kind").GetString());
        Assert.Contains("UP", eth0.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(endpoint.HwAddr, eth0.GetProperty("address").GetString());
        Assert.Equal(1400, eth0.GetProperty("mtu").GetInt32());
        Assert.Equal([guestAddress], await NetnsHost.AddressesAsync(netns, "eth0"));
        var tap = links["tap0_kata"];
        Assert.Equal("tap", tap.GetProperty("linkinfo").GetProperty("info_data").GetProperty("type").GetString());
        Assert.Equal(1400, tap.GetProperty("mtu").GetInt32());
        Assert.Contains("UP", tap.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));

        var (ingress, redirects) = await NetnsHost.TcAsync(netns, ["eth0", "tap0_kata"]);
        Assert.Equal(["eth0", "tap0_kata"], ingress);
        Assert.Equal([("eth0", "tap0_kata"), ("tap0_kata", "eth0")], redirects);

        var hostEnd = Assert.Single(await Host.HostDevicesAsync());
        Assert.Equal(driver.HostDeviceOf("sb1"), hostEnd);
        Assert.Equal([hostAddress], await NetnsHost.AddressesAsync(null, hostEnd));
        Assert.Equal(eth0.GetProperty("link_index").GetInt32(), (await NetnsHost.LinksAsync(null))[hostEnd].GetProperty("ifindex").GetInt32());

        var route = Assert.Single((await NetnsHost.JsonAsync("ip", "-n", netns, "-j", "route", "show", "default")).EnumerateArray());
        Assert.Equal((hostAddress.Split('/')[0], "eth0"), (route.GetProperty("gateway").GetString(), route.GetProperty("dev").GetString()));
        Assert.Equal([new RouteRecord { Gateway = hostAddress.Split('/')[0], Device = "eth0" }], state.Routes);
    }

    [Fact]
    public async Task A_frame_crosses_the_mirror_both_ways_between_the_host_end_and_a_guest_on_the_tap()
    {
        var driver = Host.Driver();
        var state = await driver.CreateAsync("sb1", new NetworkConfig(), Ct);
        var endpoint = state.Endpoints[0];
        var guestIp = IPAddress.Parse(endpoint.IpAddresses[0].Split('/')[0]);
        var hostIp = IPAddress.Parse(Host.SubnetAddresses(0).Host.Split('/')[0]);
        var guestMac = Frames.Mac(endpoint.HwAddr);
        var hostMac = Frames.Mac((await NetnsHost.LinksAsync(null))[driver.HostDeviceOf("sb1")].GetProperty("address").GetString()!);

        // The test plays the guest: it holds the tap as QEMU would, answers the host's ARP with the veth's MAC (the one
        // the guest's NIC takes), reads the host's datagram and answers it.
        using var guest = TapPeer.Open(state.NetNsPath, endpoint.TapDevice);
        using var socket = new UdpClient(new IPEndPoint(hostIp, 0));
        await socket.SendAsync(Encoding.ASCII.GetBytes("hello guest"), new IPEndPoint(guestIp, 7777), Ct);
        var frame = guest.ReadUntil(
            f => Frames.UdpTo(f, guestIp, 7777) is not null,
            f => Frames.ArpRequestFor(f, guestIp) is { } asker ? Frames.ArpReply(guestMac, guestIp, asker.Mac, asker.Ip) : null,
            TimeSpan.FromSeconds(10));
        var (from, fromMac, payload) = Frames.UdpTo(frame, guestIp, 7777)!.Value;
        Assert.Equal("hello guest", Encoding.ASCII.GetString(payload));
        Assert.Equal((hostIp, Convert.ToHexString(hostMac)), (from.Address, Convert.ToHexString(fromMac)));

        guest.Write(Frames.Udp(guestMac, new IPEndPoint(guestIp, 7777), hostMac, from, Encoding.ASCII.GetBytes("hello host")));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var answer = await socket.ReceiveAsync(timeout.Token);
        Assert.Equal(("hello host", new IPEndPoint(guestIp, 7777)), (Encoding.ASCII.GetString(answer.Buffer), answer.RemoteEndPoint));
    }

    [Fact]
    public async Task Creating_again_or_after_a_restart_adopts_what_exists_and_makes_nothing_twice()
    {
        var first = await Host.Driver().CreateAsync("sb1", new NetworkConfig(), Ct);

        var again = await Host.Driver().CreateAsync("sb1", new NetworkConfig(), Ct);
        var third = await Host.Driver().CreateAsync("sb1", new NetworkConfig(), Ct);

        foreach (var state in (NetworkState[])[again, third])
        {
            Assert.Equal((first.NetNsPath, first.NetNsCreated), (state.NetNsPath, state.NetNsCreated));
            Assert.Equal(first.Endpoints[0] with { IpAddresses = [] }, state.Endpoints[0] with { IpAddresses = [] });
            Assert.Equal(first.Endpoints[0].IpAddresses, state.Endpoints[0].IpAddresses);
        }

        var netns = Host.NetnsPrefix + "sb1";
        Assert.Equal([netns], Host.Namespaces());
        Assert.Single(await Host.HostDevicesAsync());
        Assert.Equal(["eth0", "lo", "tap0_kata"], (await NetnsHost.LinksAsync(netns)).Keys.Order());
        Assert.Single(await NetnsHost.AddressesAsync(netns, "eth0"));
        var (_, redirects) = await NetnsHost.TcAsync(netns, ["eth0", "tap0_kata"]);
        Assert.Equal([("eth0", "tap0_kata"), ("tap0_kata", "eth0")], redirects);
        Assert.Single(await Host.Driver().LeasesAsync(Ct));
    }

    [Fact]
    public async Task Remove_leaves_no_netns_veth_tap_qdisc_or_lease_and_can_be_repeated()
    {
        var driver = Host.Driver();
        var state = await driver.CreateAsync("sb1", new NetworkConfig(), Ct);

        await driver.RemoveAsync("sb1", state, Ct);
        await AssertNothingLeftAsync();
        await driver.RemoveAsync("sb1", state, Ct);
        await Host.Driver().RemoveAsync("sb1", new NetworkState(), Ct);
        await AssertNothingLeftAsync();
    }

    [Fact]
    public async Task Remove_given_no_state_finds_what_create_made_from_its_lease()
    {
        var driver = Host.Driver();
        await driver.CreateAsync("sb1", new NetworkConfig(), Ct);
        await driver.AddInterfaceAsync("sb1", null, new InterfaceRecord { Name = "eth1" }, Ct);

        await Host.Driver().RemoveAsync("sb1", new NetworkState(), Ct);

        await AssertNothingLeftAsync();
    }

    [Fact]
    public async Task A_stale_netns_file_left_by_an_interrupted_ip_netns_add_is_made_again_and_removed()
    {
        Directory.CreateDirectory("/run/netns");
        var path = "/run/netns/" + Host.NetnsPrefix + "sb1";
        await File.WriteAllBytesAsync(path, [], Ct);
        var driver = Host.Driver();

        var state = await driver.CreateAsync("sb1", new NetworkConfig(), Ct);

        Assert.Equal(path, state.NetNsPath);
        Assert.Contains("eth0", (await NetnsHost.LinksAsync(Host.NetnsPrefix + "sb1")).Keys);
        await driver.RemoveAsync("sb1", state, Ct);
        await AssertNothingLeftAsync();
    }

    [Fact]
    public async Task An_adopted_netns_gets_the_endpoint_and_is_not_removed_with_it()
    {
        var adopted = await Host.AddNamespaceAsync("adopted");
        var driver = Host.Driver();

        var state = await driver.CreateAsync("sb1", new NetworkConfig { NetNsPath = "/run/netns/" + adopted, NetNsCreated = true }, Ct);

        Assert.Equal(("/run/netns/" + adopted, false), (state.NetNsPath, state.NetNsCreated));
        Assert.Equal(["eth0", "lo", "tap0_kata"], (await NetnsHost.LinksAsync(adopted)).Keys.Order());
        await driver.RemoveAsync("sb1", state with { NetNsCreated = true }, Ct);
        Assert.Equal([adopted], Host.Namespaces());
        Assert.Equal(["lo"], (await NetnsHost.LinksAsync(adopted)).Keys);
        Assert.Empty(await Host.HostDevicesAsync());
        Assert.Empty(await driver.LeasesAsync(Ct));
    }

    [Fact]
    public async Task A_netns_pinned_outside_run_netns_is_reached_through_nsenter_and_kept()
    {
        var adopted = await Host.AddNamespaceAsync("elsewhere");
        var pinned = await Host.PinElsewhereAsync(adopted);
        var driver = Host.Driver();

        var state = await driver.CreateAsync("sb1", new NetworkConfig { NetNsPath = pinned, IpAddress = "192.0.2.10/24" }, Ct);

        Assert.Equal((pinned, false), (state.NetNsPath, state.NetNsCreated));
        Assert.Equal(["192.0.2.10/24"], await NetnsHost.AddressesAsync(adopted, "eth0"));
        Assert.Equal(["192.0.2.1/24"], await NetnsHost.AddressesAsync(null, driver.HostDeviceOf("sb1")));
        var (_, redirects) = await NetnsHost.TcAsync(adopted, ["eth0", "tap0_kata"]);
        Assert.Equal(2, redirects.Count);
        Assert.Null((await driver.LeasesAsync(Ct))["sb1"].Subnet);

        await driver.RemoveAsync("sb1", state, Ct);
        Assert.Equal(["lo"], (await NetnsHost.LinksAsync(adopted)).Keys);
        Assert.True(File.Exists(pinned));
        Assert.Empty(await Host.HostDevicesAsync());
    }

    [Fact]
    public async Task An_address_from_the_config_is_used_with_its_gateway_instead_of_the_pool()
    {
        var driver = Host.Driver();

        var state = await driver.CreateAsync("sb1", new NetworkConfig { IpAddress = "198.51.100.1/29", Gateway = "198.51.100.6" }, Ct);

        var netns = Host.NetnsPrefix + "sb1";
        Assert.Equal(["198.51.100.1/29"], await NetnsHost.AddressesAsync(netns, "eth0"));
        Assert.Equal(["198.51.100.6/29"], await NetnsHost.AddressesAsync(null, driver.HostDeviceOf("sb1")));
        Assert.Equal("198.51.100.6", state.Routes[0].Gateway);
        Assert.Null((await driver.LeasesAsync(Ct))["sb1"].Subnet);
    }

    [Fact]
    public async Task An_added_interface_gets_its_own_veth_tap_and_redirects_with_the_requested_name_address_and_mac_and_is_removed()
    {
        var driver = Host.Driver();
        var state = await driver.CreateAsync("sb1", new NetworkConfig(), Ct);
        var requested = new InterfaceRecord { Name = "eth1", IpAddresses = ["192.0.2.7/24"], HwAddr = "02:AA:BB:CC:DD:01", Mtu = 1300 };

        var added = await driver.AddInterfaceAsync("sb1", state, requested, Ct);
        var again = await driver.AddInterfaceAsync("sb1", state, requested, Ct);

        Assert.Equal(added with { IpAddresses = [] }, again with { IpAddresses = [] });
        Assert.Equal(added.IpAddresses, again.IpAddresses);
        Assert.Equal(("eth1", "eth1", "tap1_kata", "02:aa:bb:cc:dd:01", 1300), (added.Device, added.Name, added.TapDevice, added.HwAddr, added.Mtu));
        var netns = Host.NetnsPrefix + "sb1";
        var links = await NetnsHost.LinksAsync(netns);
        Assert.Equal(["eth0", "eth1", "lo", "tap0_kata", "tap1_kata"], links.Keys.Order());
        Assert.Equal(("02:aa:bb:cc:dd:01", 1300), (links["eth1"].GetProperty("address").GetString(), links["eth1"].GetProperty("mtu").GetInt32()));
        Assert.Equal(1300, links["tap1_kata"].GetProperty("mtu").GetInt32());
        Assert.Equal(["192.0.2.7/24"], await NetnsHost.AddressesAsync(netns, "eth1"));
        var (_, redirects) = await NetnsHost.TcAsync(netns, ["eth1", "tap1_kata"]);
        Assert.Equal([("eth1", "tap1_kata"), ("tap1_kata", "eth1")], redirects);
        Assert.Equal(2, (await Host.HostDevicesAsync()).Count);

        await driver.RemoveInterfaceAsync("sb1", state, added, Ct);
        await driver.RemoveInterfaceAsync("sb1", state, added, Ct);

        Assert.Equal(["eth0", "lo", "tap0_kata"], (await NetnsHost.LinksAsync(netns)).Keys.Order());
        Assert.Equal([driver.HostDeviceOf("sb1")], await Host.HostDevicesAsync());
        Assert.Empty((await driver.LeasesAsync(Ct))["sb1"].Interfaces);
    }

    [Fact]
    public async Task An_interface_without_a_mac_gets_a_stable_locally_administered_one()
    {
        var driver = Host.Driver();
        var state = await driver.CreateAsync("sb1", new NetworkConfig(), Ct);

        var added = await driver.AddInterfaceAsync("sb1", state, new InterfaceRecord { Name = "net1" }, Ct);

        Assert.Equal(Activities.Networks.None.NoneNetwork.LocalMac("sb1", "net1"), added.HwAddr);
        Assert.Matches("^kt[0-9a-f]{10}$", added.TapDevice);
        Assert.Equal(added.HwAddr, (await NetnsHost.LinksAsync(Host.NetnsPrefix + "sb1"))["net1"].GetProperty("address").GetString());
    }

    [Fact]
    public async Task A_device_in_an_adopted_netns_that_is_not_the_drivers_is_refused_and_left_alone()
    {
        var adopted = await Host.AddNamespaceAsync("busy");
        await NetnsHost.RunAsync("ip", "-n", adopted, "tuntap", "add", "dev", "eth0", "mode", "tap");
        var driver = Host.Driver();

        var ex = await Assert.ThrowsAsync<SandboxPreconditionException>(() => driver.CreateAsync("sb1", new NetworkConfig { NetNsPath = "/run/netns/" + adopted }, Ct));

        Assert.Contains("already has a device eth0 that is not the tcfilter driver's", ex.Message, StringComparison.Ordinal);
        await driver.RemoveAsync("sb1", new NetworkState { NetNsPath = "/run/netns/" + adopted }, Ct);
        Assert.Equal(["eth0", "lo"], (await NetnsHost.LinksAsync(adopted)).Keys.Order());
        Assert.Equal([adopted], Host.Namespaces());
    }

    private async Task AssertNothingLeftAsync()
    {
        Assert.Empty(Host.Namespaces());
        Assert.Empty(await Host.HostDevicesAsync());
        Assert.Empty(await Host.Driver().LeasesAsync(Ct));
    }
}
