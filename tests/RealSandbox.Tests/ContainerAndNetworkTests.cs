using System.Text.Json.Nodes;
using KataWorkflows.RealSandbox.Tests.Harness;

namespace KataWorkflows.RealSandbox.Tests;

/// <summary>
/// The container, network and device calls in one running sandbox (QEMU, the Kata agent, a netns), each checked in the
/// guest (processes through exec and ps, cgroup files through exec cat, links and routes through exec ip) or on the
/// host (a ping from the host end to the guest), then cleanup of the last container, which takes the sandbox, and no leak.
/// </summary>
public sealed class ContainerAndNetworkTests
{
    // The container's mount namespace has no cgroup2 mount: an exec mounts the guest's hierarchy to read the files.
    private const string CgroupOf = "mkdir -p /tmp/cg && (test -e /tmp/cg/cgroup.controllers || mount -t cgroup2 none /tmp/cg) && cat /tmp/cg/kata/";

    [Fact]
    public async Task Every_container_network_and_device_call_is_seen_in_the_guest_and_cleanup_leaves_nothing()
    {
        RealParts.Require();
        await using var site = new RealSite("ctr");
        await using var host = await RealHost.StartAsync(site);
        var id = site.NewSandboxId("ctr");
        var config = await Sandboxes.ConfigFileAsync(site, id, "c1");
        await Sandboxes.CallAsync(site, "sandbox", "run", "--config", config);

        // exec: the guest's own kernel, and a command's output inside the container.
        var (status, kernel, _) = await Sandboxes.ExecAsync(site, id, "c1", "uname", "-r");
        Assert.Equal((0, Sandboxes.GuestKernel), (status, kernel.Trim()));
        var (shStatus, sum, _) = await Sandboxes.ExecAsync(site, id, "c1", "sh", "-c", "echo in-container-$((6*7)); exit 3");
        Assert.Equal((3, "in-container-42"), (shStatus, sum.Trim()));

        // create / start a second container: its process shows in ps only once started.
        var rootfs2 = await site.RootfsAsync($"{id}-c2");
        await Sandboxes.CallAsync(site, "container", "create", id, "c2", "--rootfs", rootfs2, "--arg", "/bin/sleep", "--arg", "2400");
        Assert.Equal("ready", await Sandboxes.ContainerStateAsync(site, id, "c2"));
        await Sandboxes.CallAsync(site, "container", "start", id, "c2");
        Assert.Equal("running", await Sandboxes.ContainerStateAsync(site, id, "c2"));
        Assert.Contains("sleep 2400", await Sandboxes.PsAsync(site, id, "c2"), StringComparison.Ordinal);

        // update: the cgroup files of c2 in the guest carry the new limits; stats reports the memory limit.
        await Sandboxes.CallAsync(site, "container", "update", id, "c2", "--cpu-period", "100000", "--cpu-quota", "50000", "--memory", "67108864");
        var (_, limits, limitsErr) = await Sandboxes.ExecAsync(site, id, "c1", "sh", "-c", CgroupOf + "c2/cpu.max /tmp/cg/kata/c2/memory.max");
        Assert.True(limits.Contains("50000 100000", StringComparison.Ordinal) && limits.Contains("67108864", StringComparison.Ordinal), $"c2's cgroup: {limits}{limitsErr}");
        var stats = await site.KwfJsonAsync("container", "stats", id, "c2");
        Assert.Contains("67108864", stats!.ToJsonString(), StringComparison.Ordinal);

        // pause / resume: the cgroup is frozen, then thawed.
        await Sandboxes.CallAsync(site, "container", "pause", id, "c2");
        Assert.Equal("paused", await Sandboxes.ContainerStateAsync(site, id, "c2"));
        var frozen = await Sandboxes.ExecAsync(site, id, "c1", "sh", "-c", CgroupOf + "c2/cgroup.freeze");
        Assert.True(frozen.Stdout.Trim() == "1", $"c2's cgroup.freeze after the pause: {frozen}");
        await Sandboxes.CallAsync(site, "container", "resume", id, "c2");
        Assert.Equal("running", await Sandboxes.ContainerStateAsync(site, id, "c2"));
        var thawed = await Sandboxes.ExecAsync(site, id, "c1", "sh", "-c", CgroupOf + "c2/cgroup.freeze");
        Assert.True(thawed.Stdout.Trim() == "0", $"c2's cgroup.freeze after the resume: {thawed}");

        // kill: SIGKILL to every process of c2 ends its sleep.
        await Sandboxes.CallAsync(site, "container", "kill", id, "c2", "--signal", "KILL", "--all");
        await Run.UntilAsync<string>(
            async () => (await Sandboxes.ExecAsync(site, id, "c1", "sh", "-c", CgroupOf + "c2/cgroup.procs")).Stdout.Trim().Length == 0 ? "gone" : null,
            TimeSpan.FromSeconds(30),
            "c2's processes ending after SIGKILL");

        await Sandboxes.CallAsync(site, "container", "stop", id, "c2");
        Assert.Equal("stopped", await Sandboxes.ContainerStateAsync(site, id, "c2"));
        await Sandboxes.CallAsync(site, "container", "delete", id, "c2");
        Assert.NotEqual(0, (await site.KwfAsync("container", "status", id, "c2")).Exit);
        Assert.NotEqual(0, (await Sandboxes.ExecAsync(site, id, "c1", "sh", "-c", "test -d /tmp/cg/kata/c2")).Status);

        // interfaces: the guest has eth0 with the address from the pool, and the host end reaches it.
        var ifaces = await site.KwfJsonAsync("network", "ifaces", id);
        var eth0 = ifaces!.AsArray().Single(i => i!["name"]!.GetValue<string>() == "eth0")!;
        var address = eth0["ipAddresses"]!.AsArray().Select(a => a!.GetValue<string>()).Single(a => a.StartsWith("10.214.", StringComparison.Ordinal));
        var guestIp = address.Split('/')[0];
        Assert.Contains(guestIp, (await Sandboxes.ExecAsync(site, id, "c1", "ip", "addr", "show", "eth0")).Stdout, StringComparison.Ordinal);
        var ping = await Run.CommandAsync("ping", ["-c", "1", "-W", "10", guestIp]);
        Assert.True(ping.Exit == 0, ping.ToString());

        // add-iface / rm-iface: a hot-plugged NIC appears in the guest with its address, then goes.
        await Sandboxes.CallAsync(site, "network", "add-iface", id, "--name", "eth1", "--ip", "192.168.77.2/24", "--mac", "02:00:00:77:00:02");
        var withEth1 = await Run.UntilAsync<string>(
            async () => (await Sandboxes.ExecAsync(site, id, "c1", "ip", "addr", "show")).Stdout is var s && s.Contains("192.168.77.2", StringComparison.Ordinal) ? s : null,
            TimeSpan.FromSeconds(30),
            "eth1 with 192.168.77.2 in the guest");
        Assert.Contains("02:00:00:77:00:02", withEth1, StringComparison.Ordinal);
        Assert.Contains((await site.KwfJsonAsync("network", "ifaces", id))!.AsArray(), i => i!["name"]!.GetValue<string>() == "eth1");

        // routes: update-routes replaces the guest's routes; routes lists them; the guest's table has them.
        await Sandboxes.CallAsync(site, "network", "update-routes", id, "--route", "192.168.77.0/24,dev=eth1", "--route", "10.99.0.0/16,via=192.168.77.1,dev=eth1");
        var routes = (await site.KwfJsonAsync("network", "routes", id))!.ToJsonString();
        Assert.Contains("10.99.0.0/16", routes, StringComparison.Ordinal);
        Assert.Contains("10.99.0.0/16 via 192.168.77.1", (await Sandboxes.ExecAsync(site, id, "c1", "ip", "route", "show")).Stdout, StringComparison.Ordinal);

        await Sandboxes.CallAsync(site, "network", "rm-iface", id, "--name", "eth1", "--mac", "02:00:00:77:00:02");
        await Run.UntilAsync<string>(
            async () => (await Sandboxes.ExecAsync(site, id, "c1", "ip", "link", "show")).Stdout.Contains("02:00:00:77:00:02", StringComparison.Ordinal) ? null : "gone",
            TimeSpan.FromSeconds(30),
            "eth1 leaving the guest");

        // device add: a block device hot-plugged into the VM shows in the guest's partitions.
        var before = (await Sandboxes.ExecAsync(site, id, "c1", "cat", "/proc/partitions")).Stdout;
        var disk = Path.Join(site.Directory, "disk.ext4");
        File.Copy(Path.Join(RealParts.GuestImage, "rootfs.ext4"), disk);
        await Sandboxes.CallAsync(site, "device", "add", id, "--id", "disk1", "--host-path", disk, "--container-path", "/dev/xvdb", "--type", "b");
        var after = await Run.UntilAsync<string>(
            async () => (await Sandboxes.ExecAsync(site, id, "c1", "cat", "/proc/partitions")).Stdout is var p && Disks(p).Count > Disks(before).Count ? p : null,
            TimeSpan.FromSeconds(30),
            "a new disk in the guest's /proc/partitions");
        Assert.Contains("32768", after, StringComparison.Ordinal);

        // cleanup of the last container stops and deletes the sandbox.
        await Sandboxes.CallAsync(site, "cleanup", id, "c1");
        Assert.DoesNotContain(id, await site.RecordsAsync());
        await LeakChecker.AssertNoneAsync(site, await site.RecordsAsync(), "after the cleanup");
    }

    private static List<string> Disks(string partitions) =>
        [.. partitions.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Last())];
}
