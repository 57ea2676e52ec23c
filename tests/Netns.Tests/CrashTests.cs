using KataWorkflows.Activities.Networks.TcFilter;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Netns.Tests;

/// <summary>
/// A host killed in the middle of createNetwork leaves whatever the commands run so far made. For every k, the
/// driver runs create until its k-th command and "dies" there; a new driver (the restarted host) then removes,
/// given no state (the step never returned one), and nothing may be left; a create run again after the crash must
/// also finish and be removable.
/// </summary>
public sealed class CrashTests : NetnsTest
{
    [Fact]
    public async Task Remove_after_a_crash_at_every_command_of_create_leaves_nothing()
    {
        var counting = new CrashingRunner(int.MaxValue);
        var full = await Host.Driver(counting).CreateAsync("sb1", new NetworkConfig(), Ct);
        var commands = counting.Count;
        await Host.Driver().RemoveAsync("sb1", full, Ct);
        Assert.InRange(commands, 10, 60);

        for (var k = 0; k < commands; k++)
        {
            var crashing = new CrashingRunner(k);
            await Assert.ThrowsAsync<SimulatedCrashException>(() => Host.Driver(crashing).CreateAsync("sb1", new NetworkConfig(), Ct));

            await Host.Driver().RemoveAsync("sb1", new NetworkState(), Ct);
            await AssertNothingLeftAsync($"after a crash before command {k} of {commands} ({crashing.Crashed})");
        }
    }

    [Fact]
    public async Task Create_run_again_after_a_crash_at_every_command_finishes_with_the_same_state()
    {
        var full = await Host.Driver().CreateAsync("sb1", new NetworkConfig(), Ct);
        var commands = new CrashingRunner(int.MaxValue);
        await Host.Driver(commands).CreateAsync("sb1", new NetworkConfig(), Ct);
        await Host.Driver().RemoveAsync("sb1", full, Ct);

        for (var k = 0; k < commands.Count; k += 3)
        {
            await Assert.ThrowsAsync<SimulatedCrashException>(() => Host.Driver(new CrashingRunner(k)).CreateAsync("sb1", new NetworkConfig(), Ct));
            var state = await Host.Driver().CreateAsync("sb1", new NetworkConfig(), Ct);
            Assert.Equal((full.NetNsPath, full.Endpoints[0].HwAddr, full.Endpoints[0].IpAddresses[0]), (state.NetNsPath, state.Endpoints[0].HwAddr, state.Endpoints[0].IpAddresses[0]));
            var (_, redirects) = await NetnsHost.TcAsync(Host.NetnsPrefix + "sb1", ["eth0", "tap0_kata"]);
            Assert.Equal(2, redirects.Count);
            await Host.Driver().RemoveAsync("sb1", state, Ct);
        }

        await AssertNothingLeftAsync("at the end");
    }

    [Fact]
    public async Task Remove_after_a_crash_at_every_command_of_add_interface_leaves_the_sandbox_as_it_was()
    {
        var state = await Host.Driver().CreateAsync("sb1", new NetworkConfig(), Ct);
        var iface = new InterfaceRecord { Name = "eth1", IpAddresses = ["192.0.2.9/24"] };
        var counting = new CrashingRunner(int.MaxValue);
        await Host.Driver(counting).AddInterfaceAsync("sb1", state, iface, Ct);
        await Host.Driver().RemoveInterfaceAsync("sb1", state, iface, Ct);

        for (var k = 0; k < counting.Count; k++)
        {
            await Assert.ThrowsAsync<SimulatedCrashException>(() => Host.Driver(new CrashingRunner(k)).AddInterfaceAsync("sb1", state, iface, Ct));
            await Host.Driver().RemoveInterfaceAsync("sb1", state, iface, Ct);
            Assert.Equal(["eth0", "lo", "tap0_kata"], (await NetnsHost.LinksAsync(Host.NetnsPrefix + "sb1")).Keys.Order());
            Assert.Single(await Host.HostDevicesAsync());
        }

        await Host.Driver().RemoveAsync("sb1", state, Ct);
        await AssertNothingLeftAsync("at the end");
    }

    private async Task AssertNothingLeftAsync(string when)
    {
        var left = new List<string>();
        left.AddRange(Host.Namespaces().Select(n => "netns " + n));
        left.AddRange((await Host.HostDevicesAsync()).Select(d => "device " + d));
        left.AddRange((await Host.Driver().LeasesAsync(Ct)).Keys.Select(s => "lease " + s));
        Assert.True(left.Count == 0, $"{when}: left {string.Join(", ", left)}");
    }

    /// <summary>Runs commands for real until the one with an index, where it throws as if the process had died.</summary>
    private sealed class CrashingRunner(int crashAt) : INetworkCommandRunner
    {
        private readonly ProcessNetworkCommandRunner _inner = new(TimeSpan.FromSeconds(10));

        public int Count { get; private set; }

        public string Crashed { get; private set; } = "";

        public Task<string> RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
        {
            if (Count++ == crashAt)
            {
                Crashed = ProcessNetworkCommandRunner.Describe(program, arguments);
                throw new SimulatedCrashException();
            }

            return _inner.RunAsync(program, arguments, cancellationToken);
        }
    }

    private sealed class SimulatedCrashException : Exception;
}
