using KataWorkflows.RealSandbox.Tests.Harness;

namespace KataWorkflows.RealSandbox.Tests;

/// <summary>
/// The sandbox calls over the real host and kwf with QEMU, the Kata agent and a netns (create, status, list, start,
/// pause, resume, stats, stop, start again, delete), each checked against what is on the host: the QEMU process, its
/// QMP status, the namespace with its veth, tap and mirred filters, the host end with its address; and, at the end,
/// that nothing is left.
/// </summary>
public sealed class SandboxLifecycleTests
{
    [Fact]
    public async Task Every_sandbox_call_acts_on_the_real_VM_and_namespace_and_nothing_is_left()
    {
        RealParts.Require();
        await using var site = new RealSite("life");
        await using var host = await RealHost.StartAsync(site);
        var id = site.NewSandboxId("life");
        var config = await Sandboxes.ConfigFileAsync(site, id, "c1");

        var created = await Sandboxes.CallAsync(site, "sandbox", "create", "--config", config);
        Assert.Equal(("ready", "qemu", "kata"), (created["sandbox"]!["state"]!.GetValue<string>().ToLowerInvariant(), created["sandbox"]!["hypervisor"]!.GetValue<string>(), created["sandbox"]!["agent"]!.GetValue<string>()));
        var qemu = Assert.Single(Inspect.QemuProcesses(site.VmDirectory(id)));
        Assert.Equal("running", await Inspect.QmpStatusAsync(Path.Join(site.VmDirectory(id), "qmp.sock")));

        // The namespace holds the veth's sandbox end and its tap, each with an ingress qdisc and a mirred redirect to the other.
        var netns = site.NetnsOf(id);
        Assert.Contains(netns, await Inspect.NetnsAsync(site.NetnsPrefix));
        var links = await Inspect.LinksAsync(netns);
        Assert.Contains("eth0", links);
        Assert.Contains("tap0_kata", links);
        Assert.Contains(await Inspect.IngressFiltersAsync(netns, "eth0"), f => f.Contains("mirred", StringComparison.Ordinal) && f.Contains("tap0_kata", StringComparison.Ordinal));
        Assert.Contains(await Inspect.IngressFiltersAsync(netns, "tap0_kata"), f => f.Contains("mirred", StringComparison.Ordinal) && f.Contains("eth0", StringComparison.Ordinal));
        var hostEnd = site.HostVethOf(id);
        Assert.Contains(hostEnd, await Inspect.LinksAsync(null, site.HostDevicePrefix));
        Assert.NotEmpty(await Inspect.AddressesAsync(null, hostEnd));

        Assert.Equal("ready", await Sandboxes.StateAsync(site, id));
        Assert.Contains(id, await site.RecordsAsync());

        var started = await Sandboxes.CallAsync(site, "sandbox", "start", id);
        Assert.Equal("running", started["sandbox"]!["state"]!.GetValue<string>().ToLowerInvariant());
        Assert.Contains("sleep", await Sandboxes.PsAsync(site, id, "c1"), StringComparison.Ordinal);
        Assert.Equal([qemu], Inspect.QemuProcesses(site.VmDirectory(id)));

        await Sandboxes.CallAsync(site, "sandbox", "pause", id);
        Assert.Equal("paused", await Sandboxes.StateAsync(site, id));
        Assert.Equal("paused", await Inspect.QmpStatusAsync(Path.Join(site.VmDirectory(id), "qmp.sock")));

        await Sandboxes.CallAsync(site, "sandbox", "resume", id);
        Assert.Equal("running", await Sandboxes.StateAsync(site, id));
        Assert.Equal("running", await Inspect.QmpStatusAsync(Path.Join(site.VmDirectory(id), "qmp.sock")));

        var stats = await site.KwfJsonAsync("sandbox", "stats", id);
        var c1Stats = Assert.Single(stats!["containers"]!.AsArray());
        Assert.Equal("c1", c1Stats!["containerId"]!.GetValue<string>());
        Assert.True(c1Stats["stats"]!.ToJsonString().Length > 2, Sandboxes.Show(stats));

        await Sandboxes.CallAsync(site, "sandbox", "stop", id);
        Assert.Equal("stopped", await Sandboxes.StateAsync(site, id));
        Assert.Empty(Inspect.QemuProcesses(site.VmDirectory(id)));
        Assert.False(Directory.Exists(site.VmDirectory(id)), "the VM's run directory is still there after the stop");

        // A stopped sandbox starts in a new VM; its container is created in the new guest again and runs.
        await Sandboxes.CallAsync(site, "sandbox", "start", id);
        Assert.Equal("running", await Sandboxes.StateAsync(site, id));
        Assert.NotEqual([qemu], Inspect.QemuProcesses(site.VmDirectory(id)));
        Assert.Single(Inspect.QemuProcesses(site.VmDirectory(id)));
        Assert.Contains("sleep", await Sandboxes.PsAsync(site, id, "c1"), StringComparison.Ordinal);

        await Sandboxes.CallAsync(site, "sandbox", "stop", id);
        await Sandboxes.CallAsync(site, "sandbox", "delete", id);
        Assert.DoesNotContain(id, await site.RecordsAsync());
        await LeakChecker.AssertNoneAsync(site, await site.RecordsAsync(), "after the delete");
    }
}
