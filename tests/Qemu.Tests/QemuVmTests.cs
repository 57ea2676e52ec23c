using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Activities.Hypervisors.Qemu;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Qemu.Tests;

/// <summary>The driver against one real guest (see <see cref="QemuVm"/>).</summary>
[Collection(QemuVmGroup.Name)]
public sealed class QemuVmTests(QemuVm vm)
{
    private const UnixFileMode Owner = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerDirectory = Owner | UnixFileMode.UserExecute;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_VM_runs_in_its_network_namespace_under_its_uuid_and_is_healthy()
    {
        vm.Require();
        TestContext.Current.SendDiagnosticMessage($"boot to the agent channel: {vm.BootSeconds:0.0} s");

        var args = File.ReadAllText($"/proc/{vm.Vm.Pid}/cmdline").Split('\0');
        Assert.Equal("qemu", vm.Vm.HypervisorType);
        Assert.Equal(vm.Vm.Uuid, args[Array.IndexOf(args, "-uuid") + 1]);
        Assert.True(Guid.TryParse(vm.Vm.Uuid, out _));
        Assert.Equal(vm.Netns, (await QemuHost.RunAsync("ip", ["netns", "identify", vm.Vm.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], Ct)).Trim());
        await vm.Hypervisor.CheckAsync(QemuVm.SandboxId, vm.Vm, Ct);
        await vm.Agent.CheckAsync(QemuVm.SandboxId, Ct);
    }

    [Fact]
    public void The_run_directory_is_0700_and_its_sockets_and_files_0600()
    {
        vm.Require();
        var run = vm.Hypervisor.RunDirectoryOf(QemuVm.SandboxId);

        Assert.Equal(run.Path, vm.Vm.RunDirectory);
        Assert.Equal(KataGuestLayout.AgentSocket(vm.Root, QemuVm.SandboxId), run.AgentSocket);
        Assert.Equal(OwnerDirectory, QemuHost.Mode(Path.GetDirectoryName(run.Path)!));
        Assert.Equal(OwnerDirectory, QemuHost.Mode(run.Path));
        foreach (var path in (string[])[run.QmpSocket, run.ConsoleSocket, run.AgentSocket, run.PidFile, run.ConsoleLog])
        {
            Assert.True(File.Exists(path), path);
            Assert.Equal((path, Owner), (path, QemuHost.Mode(path)));
        }

        Assert.Equal(vm.Vm.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(run.PidFile).Trim());
        Assert.Contains("[agent]", File.ReadAllText(run.ConsoleLog), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_start_returns_the_running_VM_also_from_a_new_driver_instance()
    {
        vm.Require();

        var again = await vm.Hypervisor.StartVmAsync(QemuVm.SandboxId, vm.Config, vm.Network, Ct);
        await using var restarted = QemuHost.Hypervisor(vm.Root);
        var adopted = await restarted.StartVmAsync(QemuVm.SandboxId, vm.Config, vm.Network, Ct);

        Assert.Equal((vm.Vm.Pid, vm.Vm.Uuid), (again.Pid, again.Uuid));
        Assert.Equal((vm.Vm.Pid, vm.Vm.Uuid, vm.Vm.RunDirectory), (adopted.Pid, adopted.Uuid, adopted.RunDirectory));
        Assert.Single(QemuHost.QemuProcessesOf(vm.Vm.RunDirectory!));
    }

    [Fact]
    public async Task The_cold_plugged_endpoint_is_a_link_of_the_guest()
    {
        vm.Require();

        Assert.Contains(QemuVm.ColdMac, await vm.GuestMacsAsync(Ct));
    }

    [Fact]
    public async Task Pause_freezes_the_guest_until_resume_as_query_status_and_the_agent_show()
    {
        vm.Require();
        var run = vm.Hypervisor.RunDirectoryOf(QemuVm.SandboxId);

        await vm.Hypervisor.PauseVmAsync(QemuVm.SandboxId, vm.Vm, Ct);
        try
        {
            Assert.Equal("paused", await StatusAsync(run));
            await vm.Hypervisor.CheckAsync(QemuVm.SandboxId, vm.Vm, Ct);
            using var brief = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            brief.CancelAfter(TimeSpan.FromSeconds(3));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => vm.Agent.CheckAsync(QemuVm.SandboxId, brief.Token));
        }
        finally
        {
            await vm.Hypervisor.ResumeVmAsync(QemuVm.SandboxId, vm.Vm, Ct);
        }

        Assert.Equal("running", await StatusAsync(run));
        await vm.Agent.CheckAsync(QemuVm.SandboxId, Ct);
    }

    [Fact]
    public async Task A_block_device_is_hot_plugged_once_and_the_guest_sees_it()
    {
        vm.Require();
        var disk = Path.Join(vm.Root, "disk.ext4");
        await QemuHost.RunAsync("truncate", ["-s", "16M", disk], Ct);
        await QemuHost.RunAsync("mkfs.ext4", ["-q", "-F", "-L", "kwfq-disk", disk], Ct);
        var device = new DeviceRecord { Id = "disk1", HostPath = disk };

        Assert.Equal(device, await vm.Hypervisor.AddDeviceAsync(QemuVm.SandboxId, device, 0, Ct));
        Assert.Equal(device, await vm.Hypervisor.AddDeviceAsync(QemuVm.SandboxId, device, 0, Ct));

        // 16 MiB is 16384 blocks of 1 KiB in /proc/partitions; the guest sees the disk once its hot-plug is done.
        var seen = await vm.ExecAsync("i=0; while [ $i -lt 150 ]; do grep -Eq ' 16384 vd[a-z]$' /proc/partitions && exit 0; i=$((i+1)); usleep 100000; done; exit 1", Ct);
        var count = await vm.ExecAsync("[ $(grep -Ec ' vd[a-z]$' /proc/partitions) -eq 1 ]", Ct);
        Assert.Equal((0, 0), (seen, count));
    }

    [Fact]
    public async Task A_missing_or_non_block_device_is_refused_by_name()
    {
        vm.Require();

        var missing = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() =>
            vm.Hypervisor.AddDeviceAsync(QemuVm.SandboxId, new DeviceRecord { Id = "nope", HostPath = Path.Join(vm.Root, "absent.img") }, 1, Ct));
        var comma = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() =>
            vm.Hypervisor.AddDeviceAsync(QemuVm.SandboxId, new DeviceRecord { Id = "inj", HostPath = "/tmp/x,readonly=off" }, 1, Ct));
        var character = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() =>
            vm.Hypervisor.AddDeviceAsync(QemuVm.SandboxId, new DeviceRecord { Id = "tty", HostPath = "/dev/null", DevType = "c" }, 1, Ct));

        Assert.Equal("device.hostPath", missing.Field);
        Assert.Equal("device.hostPath", comma.Field);
        Assert.Contains("comma", comma.Message, StringComparison.Ordinal);
        Assert.Equal("device.devType", character.Field);
    }

    [Fact]
    public async Task A_NIC_is_hot_plugged_on_its_tap_configured_by_the_agent_and_unplugged_again()
    {
        vm.Require();
        const string mac = "02:6b:77:66:00:02";
        await QemuHost.RunAsync("ip", ["-n", vm.Netns, "tuntap", "add", "dev", "tapq1", "mode", "tap"], Ct);
        await QemuHost.RunAsync("ip", ["-n", vm.Netns, "link", "set", "tapq1", "up"], Ct);
        var iface = new InterfaceRecord { Name = "eth1", HwAddr = mac, TapDevice = "tapq1", IpAddresses = ["10.89.0.2/24"], Mtu = 1400 };

        var plugged = await vm.Hypervisor.AddInterfaceAsync(QemuVm.SandboxId, vm.Vm, iface, Ct);
        var again = await vm.Hypervisor.AddInterfaceAsync(QemuVm.SandboxId, vm.Vm, iface, Ct);
        Assert.Matches("^[0-9a-f]{2}/[0-9a-f]{2}$", plugged.PciAddr);
        Assert.Equal(plugged, again);

        await QemuHost.EventuallyAsync(async () => (await vm.GuestMacsAsync(Ct)).Contains(mac), TimeSpan.FromSeconds(30), "the hot-plugged NIC appearing in the guest", Ct);
        var configured = await vm.Agent.UpdateInterfaceAsync(QemuVm.SandboxId, plugged, Ct);
        Assert.Equal(("eth1", 1400), (configured.Name, configured.Mtu));
        var listed = (await vm.Agent.ListInterfacesAsync(QemuVm.SandboxId, Ct)).Single(i => i.HwAddr.Equals(mac, StringComparison.OrdinalIgnoreCase));
        Assert.Equal(["10.89.0.2/24"], listed.IpAddresses);

        await vm.Hypervisor.RemoveInterfaceAsync(QemuVm.SandboxId, vm.Vm, plugged, Ct);
        await vm.Hypervisor.RemoveInterfaceAsync(QemuVm.SandboxId, vm.Vm, plugged, Ct);
        Assert.DoesNotContain(mac, await vm.GuestMacsAsync(Ct));
        Assert.Contains(QemuVm.ColdMac, await vm.GuestMacsAsync(Ct));

        // The tap is free again: QEMU closed it.
        var plugAgain = await vm.Hypervisor.AddInterfaceAsync(QemuVm.SandboxId, vm.Vm, iface, Ct);
        await vm.Hypervisor.RemoveInterfaceAsync(QemuVm.SandboxId, vm.Vm, plugAgain, Ct);
    }

    [Fact]
    public async Task A_NIC_on_a_tap_that_is_not_in_the_namespace_or_with_a_bad_name_is_refused_and_plugs_nothing()
    {
        vm.Require();
        var iface = new InterfaceRecord { Name = "eth9", HwAddr = "02:6b:77:66:00:09", TapDevice = "tapq-missing" };

        var missing = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() => vm.Hypervisor.AddInterfaceAsync(QemuVm.SandboxId, vm.Vm, iface, Ct));
        var comma = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() =>
            vm.Hypervisor.AddInterfaceAsync(QemuVm.SandboxId, vm.Vm, iface with { TapDevice = "tapq0,vhost=on" }, Ct));
        var multicast = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() =>
            vm.Hypervisor.AddInterfaceAsync(QemuVm.SandboxId, vm.Vm, iface with { TapDevice = "tapq0", HwAddr = "01:00:5e:00:00:01" }, Ct));

        Assert.Equal(("interface.tapDevice", "interface.tapDevice", "interface.hwAddr"), (missing.Field, comma.Field, multicast.Field));
        Assert.Contains("tapq-missing", missing.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("02:6b:77:66:00:09", await vm.GuestMacsAsync(Ct));
    }

    private static async Task<string> StatusAsync(QemuRunDirectory run)
    {
        var qmp = await QmpClient.ConnectAsync(run.QmpSocket, TimeSpan.FromSeconds(10), QmpClient.DefaultMaxLineBytes, Ct);
        await using (qmp)
        {
            return (await qmp.QueryStatusAsync(Ct)).Status;
        }
    }
}
