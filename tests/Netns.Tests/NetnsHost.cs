using System.Diagnostics;
using System.Net;
using System.Text.Json;
using KataWorkflows.Activities.Networks.TcFilter;
using KataWorkflows.Activities.Store;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Netns.Tests;

/// <summary>
/// What the tests need from the machine (root, iproute2), and a per-test world: a driver over a temporary run root
/// whose namespaces and host devices carry a prefix unique to the test, and an address pool no other test uses, so
/// tests run in parallel and their cleanup removes exactly theirs, even when a test fails. The tests read what is in
/// the kernel with their own <c>ip</c>/<c>tc</c> calls, not through the driver.
/// </summary>
internal sealed class NetnsHost : IAsyncDisposable
{
    private static int _poolCounter = Random.Shared.Next(512);

    private readonly List<string> _mounts = [];

    public NetnsHost(string? addressPool = null, int subnetPrefixLength = 30)
    {
        var tag = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..4];
        NetnsPrefix = $"kwft{tag}-";
        DevicePrefix = "t" + tag;
        RunRoot = Directory.CreateTempSubdirectory("kwf-netns-tests-").FullName;
        var pool = Interlocked.Increment(ref _poolCounter) % 512;
        AddressPool = addressPool ?? $"198.{18 + (pool / 256)}.{pool % 256}.0/24";
        Options = new TcFilterNetworkOptions
        {
            AddressPool = AddressPool,
            SubnetPrefixLength = subnetPrefixLength,
            NetnsPrefix = NetnsPrefix,
            HostDevicePrefix = DevicePrefix,
            Mtu = 1400,
        };
    }

    /// <summary>Why the real-part tests cannot run here, or null when they can.</summary>
    public static string? Missing { get; } = FindMissing();

    public string NetnsPrefix { get; }

    public string DevicePrefix { get; }

    public string RunRoot { get; }

    public string AddressPool { get; }

    public TcFilterNetworkOptions Options { get; }

    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Skips the test when netns cannot be used here, unless CI is set: then it fails.</summary>
    public static void Require()
    {
        if (Missing is null)
        {
            return;
        }

        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            throw new InvalidOperationException($"CI is set and the network namespace tests cannot run: {Missing}");
        }

        Assert.Skip($"{Missing} (under CI=true this test runs and fails without it)");
    }

    /// <summary>A driver over this world (a new one is what a restarted host has).</summary>
    public TcFilterNetwork Driver(INetworkCommandRunner? runner = null) =>
        new(Microsoft.Extensions.Options.Options.Create(Options), Microsoft.Extensions.Options.Options.Create(new HostStoreOptions { RunRoot = RunRoot }),
            runner ?? new ProcessNetworkCommandRunner(TimeSpan.FromSeconds(10)), logger: null);

    /// <summary>Runs a command and returns its stdout; a failure throws with its stderr.</summary>
    public static async Task<string> RunAsync(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await stderr}");
        }

        return await stdout;
    }

    public static async Task<JsonElement> JsonAsync(string program, params string[] arguments)
    {
        var text = await RunAsync(program, arguments);
        using var document = JsonDocument.Parse(string.IsNullOrWhiteSpace(text) ? "[]" : text);
        return document.RootElement.Clone();
    }

    /// <summary>The names of this test's namespaces in /run/netns.</summary>
    public IReadOnlyList<string> Namespaces() =>
        Directory.Exists("/run/netns")
            ? Directory.EnumerateFiles("/run/netns").Select(Path.GetFileName).Where(n => n!.StartsWith(NetnsPrefix, StringComparison.Ordinal)).Select(n => n!).Order().ToList()
            : [];

    /// <summary>The links of a namespace (null: the host's) by name.</summary>
    public static async Task<Dictionary<string, JsonElement>> LinksAsync(string? netns)
    {
        var json = netns is null ? await JsonAsync("ip", "-j", "-d", "link", "show") : await JsonAsync("ip", "-n", netns, "-j", "-d", "link", "show");
        return json.EnumerateArray().ToDictionary(l => l.GetProperty("ifname").GetString()!, l => l);
    }

    /// <summary>This test's devices in the host's namespace.</summary>
    public async Task<IReadOnlyList<string>> HostDevicesAsync() =>
        (await LinksAsync(null)).Keys.Where(n => n.StartsWith(DevicePrefix, StringComparison.Ordinal)).Order().ToList();

    /// <summary>The IPv4 addresses of a device, with prefix lengths.</summary>
    public static async Task<IReadOnlyList<string>> AddressesAsync(string? netns, string device)
    {
        var json = netns is null ? await JsonAsync("ip", "-j", "address", "show", "dev", device) : await JsonAsync("ip", "-n", netns, "-j", "address", "show", "dev", device);
        return json.EnumerateArray().SelectMany(l => l.GetProperty("addr_info").EnumerateArray())
            .Where(a => a.GetProperty("family").GetString() == "inet")
            .Select(a => $"{a.GetProperty("local").GetString()}/{a.GetProperty("prefixlen").GetInt32()}").ToList();
    }

    /// <summary>The ingress qdiscs' devices and the mirred redirects (from, to) in a namespace.</summary>
    public static async Task<(IReadOnlyList<string> Ingress, IReadOnlyList<(string From, string To)> Redirects)> TcAsync(string netns, IEnumerable<string> devices)
    {
        var ingress = new List<string>();
        var redirects = new List<(string, string)>();
        foreach (var device in devices)
        {
            var qdiscs = await JsonAsync("tc", "-n", netns, "-j", "qdisc", "show", "dev", device);
            if (!qdiscs.EnumerateArray().Any(q => q.GetProperty("kind").GetString() == "ingress"))
            {
                continue;
            }

            ingress.Add(device);
            var filters = await JsonAsync("tc", "-n", netns, "-j", "filter", "show", "dev", device, "ingress");
            foreach (var filter in filters.EnumerateArray())
            {
                if (!filter.TryGetProperty("options", out var options) || !options.TryGetProperty("actions", out var actions))
                {
                    continue;
                }

                foreach (var action in actions.EnumerateArray())
                {
                    if (action.GetProperty("kind").GetString() == "mirred" && action.GetProperty("mirred_action").GetString() == "redirect"
                        && action.GetProperty("direction").GetString() == "egress")
                    {
                        redirects.Add((device, action.GetProperty("to_dev").GetString()!));
                    }
                }
            }
        }

        return (ingress, redirects);
    }

    /// <summary>Creates a namespace of this test's (to adopt) and returns its name.</summary>
    public async Task<string> AddNamespaceAsync(string suffix)
    {
        var name = NetnsPrefix + suffix;
        await RunAsync("ip", "netns", "add", name);
        return name;
    }

    /// <summary>Bind-mounts a namespace on a file outside /run/netns (as Docker pins its own) and returns the path.</summary>
    public async Task<string> PinElsewhereAsync(string netns)
    {
        var path = Path.Join(RunRoot, "pinned-" + netns);
        await File.WriteAllBytesAsync(path, [], Ct);
        await RunAsync("mount", "--bind", "/run/netns/" + netns, path);
        _mounts.Add(path);
        return path;
    }

    /// <summary>The first and second address of the nth /<paramref name="prefix"/> subnet of the pool.</summary>
    public (string Host, string Guest) SubnetAddresses(int index, int prefix = 30)
    {
        var network = IPNetwork.Parse(AddressPool);
        var value = BitConverter.ToUInt32(network.BaseAddress.GetAddressBytes().Reverse().ToArray()) + (uint)(index << (32 - prefix));
        static string Text(uint v) => new IPAddress(BitConverter.GetBytes(v).Reverse().ToArray()).ToString();
        return ($"{Text(value + 1)}/{prefix}", $"{Text(value + 2)}/{prefix}");
    }

    public async ValueTask DisposeAsync()
    {
        var failures = new List<string>();
        foreach (var mount in _mounts)
        {
            await TryAsync(failures, "umount", mount);
        }

        if (Missing is null)
        {
            // A host end goes with its peer, so one deleted meanwhile is not a failure; one still there is.
            foreach (var device in await HostDevicesAsync())
            {
                await TryAsync(failures, "ip", "link", "delete", "dev", device);
            }

            foreach (var netns in Namespaces())
            {
                await TryAsync(failures, "ip", "netns", "delete", netns);
            }

            failures.RemoveAll(f => f.Contains("Cannot find device", StringComparison.Ordinal));
            failures.AddRange((await HostDevicesAsync()).Select(d => $"{d} is still there"));
            failures.AddRange(Namespaces().Select(n => $"netns {n} is still there"));
        }

        Directory.Delete(RunRoot, recursive: true);
        Assert.True(failures.Count == 0, "cleanup failed: " + string.Join("; ", failures));
    }

    private static async Task TryAsync(List<string> failures, string program, params string[] arguments)
    {
        try
        {
            await RunAsync(program, arguments);
        }
        catch (InvalidOperationException ex)
        {
            failures.Add(ex.Message);
        }
    }

    private static string? FindMissing()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces need Linux";
        }

        if (Native.geteuid() != 0)
        {
            return "network namespaces, veth and tap need root";
        }

        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        var missing = new[] { "ip", "tc", "nsenter" }.Where(t => !path.Any(d => File.Exists(Path.Join(d, t)))).ToList();
        if (missing.Count > 0)
        {
            return $"missing on this machine: {string.Join(", ", missing)} (iproute2, util-linux)";
        }

        return File.Exists("/dev/net/tun") ? null : "/dev/net/tun is missing";
    }
}
