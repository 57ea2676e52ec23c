using KataWorkflows.Activities.Networks.TcFilter;
using KataWorkflows.Activities.Store;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Netns.Tests;

/// <summary>Every value that ends up in a command is checked first, with an error that names the field; no command runs.</summary>
public sealed class ValidationTests : IDisposable
{
    private readonly string _runRoot = Directory.CreateTempSubdirectory("kwf-validation-tests-").FullName;
    private readonly RecordingRunner _runner = new();

    private static CancellationToken Ct => NetnsHost.Ct;

    public void Dispose() => Directory.Delete(_runRoot, recursive: true);

    public static TheoryData<string, string, string> BadInterfaces => new()
    {
        { "", "", "interface.name" },
        { "a b", "", "interface.name" },
        { "sixteen-chars-xx", "", "interface.name" },
        { "-eth", "", "interface.name" },
        { "lo", "", "interface.name" },
        { "tap3_kata", "", "interface.name" },
        { "eth1;reboot", "", "interface.name" },
        { "eth1", "zz:00:00:00:00:01", "interface.hwAddr" },
        { "eth1", "03:00:00:00:00:01", "interface.hwAddr" },
        { "eth1", "00:00:00:00:00:00", "interface.hwAddr" },
        { "eth1", "02:00:00:00:00:01 up", "interface.hwAddr" },
    };

    [Theory]
    [MemberData(nameof(BadInterfaces))]
    public async Task A_bad_interface_name_or_mac_is_refused_naming_the_field(string name, string mac, string field)
    {
        var driver = Driver();

        var ex = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() =>
            driver.AddInterfaceAsync("sb1", new NetworkState { NetNsPath = "/run/netns/x" }, new InterfaceRecord { Name = name, HwAddr = mac }, Ct));

        Assert.Equal(field, ex.Field);
        Assert.StartsWith(field, ex.Message, StringComparison.Ordinal);
        Assert.Empty(_runner.Commands);
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("10.1/8")]
    [InlineData("10.0.0.1/33")]
    [InlineData("10.0.0.1/+8")]
    [InlineData("fe80::1%eth0/64")]
    [InlineData("10.0.0.1/24 dev lo")]
    public async Task A_bad_interface_address_is_refused_naming_its_index(string address)
    {
        var ex = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() =>
            Driver().AddInterfaceAsync("sb1", new NetworkState { NetNsPath = "/run/netns/x" }, new InterfaceRecord { Name = "eth1", IpAddresses = ["10.0.0.5/24", address] }, Ct));

        Assert.Equal("interface.ipAddresses[1]", ex.Field);
        Assert.Empty(_runner.Commands);
    }

    [Theory]
    [InlineData("10.0.0.1", null, "sandboxConfig.networkConfig.ipAddress")]
    [InlineData("10.0.0.2/24", "10.0.1.1", "sandboxConfig.networkConfig.gateway")]
    [InlineData("10.0.0.2/24", "10.0.0.2", "sandboxConfig.networkConfig.gateway")]
    [InlineData("10.0.0.2/24", "fd00::1", "sandboxConfig.networkConfig.gateway")]
    [InlineData(null, "10.0.0.1", "sandboxConfig.networkConfig.gateway")]
    [InlineData("10.0.0.2/32", null, "sandboxConfig.networkConfig.gateway")]
    public async Task A_bad_config_address_or_gateway_is_refused_naming_the_field(string? address, string? gateway, string field)
    {
        var config = new NetworkConfig { IpAddress = address, Gateway = gateway, NetNsPath = "/proc/self/ns/net" };

        var ex = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() => Driver().CreateAsync("sb1", config, Ct));

        Assert.Equal(field, ex.Field);
        if (field != "sandboxConfig.networkConfig.gateway" || address != "10.0.0.2/32")
        {
            // Everything but the gateway that only the driver can find missing is refused before the sandbox is scheduled too.
            Assert.Equal(field, Assert.Throws<InvalidSandboxArgumentException>(() => new SandboxConfig { Id = "sb1", NetworkConfig = config }.Validated()).Field);
        }
    }

    [Theory]
    [InlineData("run/netns/x")]
    [InlineData("/run/netns/../../etc/passwd")]
    [InlineData("/run/netns/missing-namespace-xyz")]
    public async Task A_bad_or_missing_netns_path_is_refused(string path)
    {
        var ex = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() => Driver().CreateAsync("sb1", new NetworkConfig { NetNsPath = path }, Ct));

        Assert.Equal("sandboxConfig.networkConfig.netNsPath", ex.Field);
        Assert.Empty(_runner.Commands);
        Assert.False(File.Exists(Path.Join(_runRoot, "network", TcFilterLeaseStore.FileName)));
    }

    [Fact]
    public async Task Names_are_bounded_and_safe_whatever_the_sandbox_id()
    {
        var driver = Driver();
        var id = new string('a', 100) + ".b_c-d";

        var netns = Path.GetFileName(driver.NetnsPathOf(id));

        Assert.True(netns.Length <= 44, netns);
        Assert.Matches("^kwf-[A-Za-z0-9_.-]+$", netns);
        Assert.NotEqual(netns, Path.GetFileName(driver.NetnsPathOf(new string('a', 100) + ".b_c-e")));
        Assert.Matches("^kwf[0-9a-f]{12}$", driver.HostDeviceOf(id));
        Assert.NotEqual(driver.HostDeviceOf(id), driver.HostDeviceOf(id, "eth1"));
        Assert.Equal("sandboxId", (await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() => driver.CreateAsync("../x", new NetworkConfig(), Ct))).Field);
        Assert.Empty(_runner.Commands);
    }

    [Theory]
    [InlineData("AddressPool", "10.213.0.1/16")]
    [InlineData("AddressPool", "fd00::/64")]
    [InlineData("AddressPool", "10.213/16")]
    [InlineData("SubnetPrefixLength", "31")]
    [InlineData("SubnetPrefixLength", "8")]
    [InlineData("Mtu", "67")]
    [InlineData("NetnsPrefix", "a/b")]
    [InlineData("HostDevicePrefix", "toolong")]
    [InlineData("HostDevicePrefix", "K")]
    [InlineData("CommandTimeout", "00:00:00")]
    public void A_bad_option_fails_the_start_naming_its_key(string key, string value)
    {
        var services = new ServiceCollection();
        services.AddTcFilterNetwork(o =>
        {
            switch (key)
            {
                case "AddressPool": o.AddressPool = value; break;
                case "SubnetPrefixLength": o.SubnetPrefixLength = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                case "Mtu": o.Mtu = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                case "NetnsPrefix": o.NetnsPrefix = value; break;
                case "HostDevicePrefix": o.HostDevicePrefix = value; break;
                default: o.CommandTimeout = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            }
        });
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<TcFilterNetworkOptions>>().Value);

        var failure = Assert.Single(ex.Failures);
        Assert.StartsWith($"Network:{key} ", failure, StringComparison.Ordinal);
        Assert.Contains(value, failure, StringComparison.Ordinal);
    }

    [Fact]
    public void The_defaults_are_valid_and_the_driver_is_registered_as_tcfilter()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSandboxDriversForTest(_runRoot);
        services.AddTcFilterNetwork();
        using var provider = services.BuildServiceProvider();

        Assert.True(new TcFilterNetworkOptionsValidator().Validate(null, new TcFilterNetworkOptions()).Succeeded);
        var driver = provider.GetRequiredService<Activities.Drivers.IDriverResolver>().GetNetwork("tcfilter");
        Assert.IsType<TcFilterNetwork>(driver);
    }

    [Fact]
    public async Task A_failed_command_names_the_command_line_and_its_stderr()
    {
        var runner = new ProcessNetworkCommandRunner(TimeSpan.FromSeconds(10));

        var ex = await Assert.ThrowsAsync<NetworkCommandException>(() => runner.RunAsync("ip", ["link", "show", "dev", "kwfnosuchdev0"], Ct));

        Assert.Equal("ip link show dev kwfnosuchdev0", ex.Command);
        Assert.Equal(1, ex.ExitCode);
        Assert.Contains("kwfnosuchdev0", ex.StandardError, StringComparison.Ordinal);
        Assert.StartsWith("`ip link show dev kwfnosuchdev0` failed with exit code 1: ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_past_its_timeout_is_killed_and_reported()
    {
        var runner = new ProcessNetworkCommandRunner(TimeSpan.FromMilliseconds(200));
        var started = System.Diagnostics.Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<NetworkCommandException>(() => runner.RunAsync("sleep", ["30"], Ct));

        Assert.Equal("`sleep 30` did not finish within 0.2 s and was killed", ex.Message);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), started.Elapsed.ToString());
    }

    [Fact]
    public async Task A_program_that_is_not_there_is_reported()
    {
        var ex = await Assert.ThrowsAsync<NetworkCommandException>(() =>
            new ProcessNetworkCommandRunner(TimeSpan.FromSeconds(5)).RunAsync("kwf-no-such-program", ["x"], Ct));

        Assert.StartsWith("`kwf-no-such-program x` could not be started", ex.Message, StringComparison.Ordinal);
    }

    private TcFilterNetwork Driver() =>
        new(Options.Create(new TcFilterNetworkOptions()), Options.Create(new HostStoreOptions { RunRoot = _runRoot }), _runner, logger: null);

    /// <summary>Refuses every command: a validation test must not get as far as one.</summary>
    private sealed class RecordingRunner : INetworkCommandRunner
    {
        public List<string> Commands { get; } = [];

        public Task<string> RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
        {
            Commands.Add(ProcessNetworkCommandRunner.Describe(program, arguments));
            throw new InvalidOperationException("a command ran: " + Commands[^1]);
        }
    }
}

internal static class TestServiceCollectionExtensions
{
    public static IServiceCollection AddSandboxDriversForTest(this IServiceCollection services, string runRoot) =>
        Activities.SandboxDriversServiceCollectionExtensions.AddSandboxDrivers(services, store: o => o.RunRoot = runRoot);
}
