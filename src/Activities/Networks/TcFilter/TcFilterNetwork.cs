using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using KataWorkflows.Activities.Networks.None;
using KataWorkflows.Activities.Store;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Networks.TcFilter;

/// <summary>
/// Interworking model <c>tcfilter</c>, Kata's default: the sandbox gets a network namespace (created and pinned by
/// <c>ip netns add</c> in <c>/run/netns</c> when its config names none, else the given one is adopted and never
/// removed) holding the veth of its endpoint (the host end stays in the host's namespace, where a CNI bridge would own
/// it), a tap for the VM's NIC with the veth's MTU, an ingress qdisc on both and two u32 <c>mirred egress redirect</c>
/// filters, veth to tap and tap to veth, so every frame crosses between them untouched. The endpoint's address comes
/// from the sandbox's config or from a subnet leased from the host's pool (the part a CNI plugin plays for Kata).
/// <para>
/// Every call is idempotent: what exists is adopted (and checked to be what this driver makes), and removing what is
/// gone succeeds. What a sandbox has is recorded in a lease file before anything is created, so a removal after a crash
/// at any point, even with no <see cref="NetworkState"/>, removes exactly what was made. Commands are iproute2's
/// <c>ip</c> and <c>tc</c> (and <c>nsenter</c> for an adopted namespace outside <c>/run/netns</c>), run from argument
/// lists, each value checked first.
/// </para>
/// </summary>
public sealed class TcFilterNetwork : INetworkDriver
{
    /// <summary>The interworking model name.</summary>
    public const string ModelName = "tcfilter";

    private readonly TcFilterNetworkOptions _options;
    private readonly IpRoute2 _ip;
    private readonly TcFilterLeaseStore _leases;
    private readonly ILogger _logger;

    /// <summary>Creates the driver.</summary>
    public TcFilterNetwork(IOptions<TcFilterNetworkOptions> options, IOptions<HostStoreOptions> store, ILogger<TcFilterNetwork>? logger = null)
        : this(options, store, runner: null, logger)
    {
    }

    internal TcFilterNetwork(IOptions<TcFilterNetworkOptions> options, IOptions<HostStoreOptions> store, INetworkCommandRunner? runner, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(store);
        _options = options.Value;
        var failure = new TcFilterNetworkOptionsValidator().Validate(null, _options);
        if (failure.Failed)
        {
            throw new OptionsValidationException(TcFilterNetworkOptions.SectionName, typeof(TcFilterNetworkOptions), failure.Failures);
        }

        var pool = TcFilterNetworkOptionsValidator.TryParsePool(_options.AddressPool, out var parsed) ? parsed : throw new UnreachableException();
        _ip = new IpRoute2(runner ?? new ProcessNetworkCommandRunner(_options.CommandTimeout));
        _leases = new TcFilterLeaseStore(store.Value.RunRoot, pool, _options.SubnetPrefixLength);
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The lease file (under the host store's run root).</summary>
    public string LeaseFile => _leases.Path;

    /// <summary>Every sandbox's lease, by sandbox id (what a leak check compares with the sandbox records).</summary>
    public Task<IReadOnlyDictionary<string, TcFilterLease>> LeasesAsync(CancellationToken cancellationToken) => _leases.ReadAllAsync(cancellationToken);

    /// <summary>The path of the namespace this driver creates for a sandbox.</summary>
    public string NetnsPathOf(string sandboxId) => Path.Join(TcFilterNames.NetnsDirectory, TcFilterNames.Netns(_options.NetnsPrefix, sandboxId));

    /// <summary>The veth's host end of a sandbox's interface (<c>eth0</c> for its own endpoint).</summary>
    public string HostDeviceOf(string sandboxId, string interfaceName = TcFilterNames.PrimaryInterface) =>
        TcFilterNames.HostVeth(_options.HostDevicePrefix, sandboxId, interfaceName);

    /// <inheritdoc />
    public async Task<NetworkState> CreateAsync(string sandboxId, NetworkConfig config, CancellationToken cancellationToken)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        ArgumentNullException.ThrowIfNull(config);
        if (config.DisableNewNetNs)
        {
            throw new InvalidSandboxArgumentException(
                "sandboxConfig.networkConfig.disableNewNetNs", "The tcfilter model needs a network namespace; a sandbox with disableNewNetNs runs with the model none");
        }

        NetworkAddresses.Validate(config.IpAddress, config.Gateway, "sandboxConfig.networkConfig");
        var own = string.IsNullOrEmpty(config.IpAddress) ? default : ConfiguredAddresses(config);
        var adopted = !string.IsNullOrEmpty(config.NetNsPath);
        if (adopted)
        {
            TcFilterNames.ValidateNetnsPath(config.NetNsPath!, "sandboxConfig.networkConfig.netNsPath");
        }

        // The lease goes first: from here on a removal knows the namespace, whether it is ours, and the subnet.
        var path = adopted ? config.NetNsPath! : NetnsPathOf(sandboxId);
        var lease = await _leases.AcquireAsync(sandboxId, path, netNsCreated: !adopted, subnet: string.IsNullOrEmpty(config.IpAddress), cancellationToken)
            .ConfigureAwait(false);
        if (lease.Subnet is not null)
        {
            TcFilterLog.SubnetLeased(_logger, sandboxId, lease.Subnet);
        }

        var netns = new Netns(lease.NetNsPath);
        if (lease.NetNsCreated)
        {
            await EnsureNetnsAsync(sandboxId, netns, cancellationToken).ConfigureAwait(false);
        }
        else if (!await _ip.UsableAsync(netns, cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidSandboxArgumentException("sandboxConfig.networkConfig.netNsPath", $"sandboxConfig.networkConfig.netNsPath '{netns.Path}' is not a network namespace");
        }

        var (guest, gateway, prefix) = lease.Subnet is { } subnet ? PoolAddresses(subnet) : own;
        var endpoint = await EnsureEndpointAsync(sandboxId, netns, new EndpointSpec(
            TcFilterNames.PrimaryInterface,
            NoneNetwork.LocalMac(sandboxId, TcFilterNames.PrimaryInterface),
            _options.Mtu,
            [$"{guest}/{prefix}"],
            [$"{gateway}/{prefix}"]), cancellationToken).ConfigureAwait(false);

        // The default route a CNI plugin would put in the namespace; the guest gets the same one.
        var family = gateway.AddressFamily == AddressFamily.InterNetworkV6 ? "-6" : "-4";
        await _ip.IpAsync(netns, cancellationToken, family, "route", "replace", "default", "via", gateway.ToString(), "dev", endpoint.Device).ConfigureAwait(false);
        return new NetworkState
        {
            NetNsPath = netns.Path,
            NetNsCreated = lease.NetNsCreated,
            Endpoints = [endpoint],
            Routes = [new RouteRecord { Dest = string.Empty, Gateway = gateway.ToString(), Device = endpoint.Name }],
        };
    }

    /// <inheritdoc />
    public async Task RemoveAsync(string sandboxId, NetworkState state, CancellationToken cancellationToken)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        ArgumentNullException.ThrowIfNull(state);
        var names = new List<string> { TcFilterNames.PrimaryInterface };
        for (var i = 0; i < state.Endpoints.Count; i++)
        {
            TcFilterNames.ValidateInterfaceName(state.Endpoints[i].Name, $"network.endpoints[{i}].name");
            names.Add(state.Endpoints[i].Name);
        }

        var ours = NetnsPathOf(sandboxId);
        var lease = await _leases.FindAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        names.AddRange(lease?.Interfaces ?? []);

        // Without a lease (released by a removal that finished, or a run root wiped) only a namespace of this driver's
        // own name can be ours: it is made after the lease is written and removed before the lease is released.
        var path = lease?.NetNsPath ?? (state.NetNsPath.Length > 0 ? state.NetNsPath : ours);
        var created = lease?.NetNsCreated ?? (path == ours);
        if (path.Length > 0 && path != ours)
        {
            TcFilterNames.ValidateNetnsPath(path, "network.netNsPath", mustExist: false);
        }

        var netns = new Netns(path);
        var usable = await _ip.UsableAsync(netns, cancellationToken).ConfigureAwait(false);
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            await RemoveEndpointAsync(sandboxId, usable ? netns : null, name, cancellationToken).ConfigureAwait(false);
        }

        if (created && File.Exists(path))
        {
            var name = netns.Name!;
            await RemoveAsync(sandboxId, () => _ip.IpAsync(null, cancellationToken, "netns", "delete", name), () => Task.FromResult(File.Exists(path))).ConfigureAwait(false);
            TcFilterLog.NetnsRemoved(_logger, sandboxId, path);
        }

        await _leases.ReleaseAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        TcFilterLog.LeaseReleased(_logger, sandboxId);
    }

    /// <inheritdoc />
    public async Task<InterfaceRecord> AddInterfaceAsync(string sandboxId, NetworkState? state, InterfaceRecord iface, CancellationToken cancellationToken)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        ArgumentNullException.ThrowIfNull(iface);
        TcFilterNames.ValidateInterfaceName(iface.Name, "interface.name");
        var mac = string.IsNullOrEmpty(iface.HwAddr) ? NoneNetwork.LocalMac(sandboxId, iface.Name) : TcFilterNames.ValidateMac(iface.HwAddr, "interface.hwAddr");
        if (iface.Mtu is < 68 or > 65535)
        {
            throw new InvalidSandboxArgumentException("interface.mtu", $"interface.mtu must be between 68 and 65535, got {iface.Mtu}");
        }

        var addresses = new List<string>();
        for (var i = 0; i < iface.IpAddresses.Count; i++)
        {
            if (!NetworkAddresses.TryParse(iface.IpAddresses[i], out var address, out var prefix))
            {
                throw new InvalidSandboxArgumentException($"interface.ipAddresses[{i}]", $"interface.ipAddresses[{i}] is not an address with a prefix length: '{iface.IpAddresses[i]}'");
            }

            addresses.Add($"{address}/{prefix}");
        }

        var netns = await SandboxNetnsAsync(sandboxId, state, cancellationToken).ConfigureAwait(false)
            ?? throw new SandboxPreconditionException($"Sandbox {sandboxId} has no network namespace (tcfilter): its network must be created before an interface is added");
        await _leases.AddInterfaceAsync(sandboxId, netns.Path, iface.Name, cancellationToken).ConfigureAwait(false);
        if (!await _ip.UsableAsync(netns, cancellationToken).ConfigureAwait(false))
        {
            throw new SandboxPreconditionException($"The network namespace {netns.Path} of sandbox {sandboxId} is not there");
        }

        var endpoint = await EnsureEndpointAsync(sandboxId, netns, new EndpointSpec(iface.Name, mac, iface.Mtu, addresses, []), cancellationToken).ConfigureAwait(false);
        return endpoint with { PciAddr = iface.PciAddr };
    }

    /// <inheritdoc />
    public async Task RemoveInterfaceAsync(string sandboxId, NetworkState? state, InterfaceRecord iface, CancellationToken cancellationToken)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        ArgumentNullException.ThrowIfNull(iface);
        TcFilterNames.ValidateInterfaceName(iface.Name, "interface.name");
        var netns = await SandboxNetnsAsync(sandboxId, state, cancellationToken).ConfigureAwait(false);
        var usable = netns is not null && await _ip.UsableAsync(netns, cancellationToken).ConfigureAwait(false);
        await RemoveEndpointAsync(sandboxId, usable ? netns : null, iface.Name, cancellationToken).ConfigureAwait(false);
        await _leases.RemoveInterfaceAsync(sandboxId, iface.Name, cancellationToken).ConfigureAwait(false);
    }

    private async Task<Netns?> SandboxNetnsAsync(string sandboxId, NetworkState? state, CancellationToken cancellationToken)
    {
        if (state is { NetNsPath.Length: > 0 })
        {
            TcFilterNames.ValidateNetnsPath(state.NetNsPath, "network.netNsPath", mustExist: false);
            return new Netns(state.NetNsPath);
        }

        var lease = await _leases.FindAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        return lease is null ? null : new Netns(lease.NetNsPath);
    }

    private async Task EnsureNetnsAsync(string sandboxId, Netns netns, CancellationToken cancellationToken)
    {
        if (await _ip.UsableAsync(netns, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var name = netns.Name!;
        if (File.Exists(netns.Path))
        {
            // `ip netns add` killed between creating the file and mounting the namespace on it leaves an empty file.
            TcFilterLog.NetnsStale(_logger, sandboxId, netns.Path);
            await _ip.IpAsync(null, cancellationToken, "netns", "delete", name).ConfigureAwait(false);
        }

        await _ip.IpAsync(null, cancellationToken, "netns", "add", name).ConfigureAwait(false);
        TcFilterLog.NetnsCreated(_logger, sandboxId, netns.Path);
    }

    private async Task<InterfaceRecord> EnsureEndpointAsync(string sandboxId, Netns netns, EndpointSpec spec, CancellationToken cancellationToken)
    {
        var host = HostDeviceOf(sandboxId, spec.Name);
        var tap = TcFilterNames.Tap(spec.Name);
        var mtu = spec.Mtu.ToString(CultureInfo.InvariantCulture);
        var hostLinks = await _ip.LinksAsync(null, cancellationToken).ConfigureAwait(false);
        var links = await _ip.LinksAsync(netns, cancellationToken).ConfigureAwait(false);
        if (!hostLinks.ContainsKey(host))
        {
            if (links.ContainsKey(spec.Name))
            {
                throw new SandboxPreconditionException(
                    $"The network namespace {netns.Path} of sandbox {sandboxId} already has a device {spec.Name} that is not the tcfilter driver's (its host end {host} is not there)");
            }

            // One netlink request makes both ends, the peer directly in the namespace under its final name.
            await _ip.IpAsync(null, cancellationToken, "link", "add", host, "mtu", mtu, "type", "veth",
                "peer", "name", spec.Name, "address", spec.Mac, "mtu", mtu, "netns", netns.LinkTarget).ConfigureAwait(false);
            hostLinks = await _ip.LinksAsync(null, cancellationToken).ConfigureAwait(false);
            links = await _ip.LinksAsync(netns, cancellationToken).ConfigureAwait(false);
        }

        var hostEnd = hostLinks[host];
        if (!links.TryGetValue(spec.Name, out var veth) || veth.Kind != "veth" || veth.PeerIndex != hostEnd.Index || hostEnd.PeerIndex != veth.Index)
        {
            throw new SandboxPreconditionException(
                $"The host device {host} of sandbox {sandboxId} is not the peer of {spec.Name} in {netns.Path}: it is not the tcfilter driver's, or the namespace is another one");
        }

        foreach (var address in spec.HostAddresses)
        {
            await _ip.IpAsync(null, cancellationToken, "address", "replace", address, "dev", host).ConfigureAwait(false);
        }

        await _ip.IpAsync(null, cancellationToken, "link", "set", "dev", host, "up").ConfigureAwait(false);
        if (!string.Equals(veth.Address, spec.Mac, StringComparison.OrdinalIgnoreCase) || veth.Mtu != spec.Mtu)
        {
            await _ip.IpAsync(netns, cancellationToken, "link", "set", "dev", spec.Name, "down").ConfigureAwait(false);
            await _ip.IpAsync(netns, cancellationToken, "link", "set", "dev", spec.Name, "address", spec.Mac, "mtu", mtu).ConfigureAwait(false);
        }

        foreach (var address in spec.GuestAddresses)
        {
            await _ip.IpAsync(netns, cancellationToken, "address", "replace", address, "dev", spec.Name).ConfigureAwait(false);
        }

        await _ip.IpAsync(netns, cancellationToken, "link", "set", "dev", "lo", "up").ConfigureAwait(false);
        await _ip.IpAsync(netns, cancellationToken, "link", "set", "dev", spec.Name, "up").ConfigureAwait(false);

        // Kata's tap takes the veth's MTU; it is a plain single-queue tap that QEMU opens by name.
        if (!links.ContainsKey(tap))
        {
            await _ip.IpAsync(netns, cancellationToken, "tuntap", "add", "dev", tap, "mode", "tap").ConfigureAwait(false);
        }

        await _ip.IpAsync(netns, cancellationToken, "link", "set", "dev", tap, "mtu", mtu, "up").ConfigureAwait(false);
        foreach (var (from, to) in ((string, string)[])[(spec.Name, tap), (tap, spec.Name)])
        {
            if (!await _ip.HasIngressAsync(netns, from, cancellationToken).ConfigureAwait(false))
            {
                await _ip.TcAsync(netns, cancellationToken, "qdisc", "add", "dev", from, "ingress").ConfigureAwait(false);
            }

            // replace with a fixed priority and handle: running it again leaves one filter, not two.
            await _ip.TcAsync(netns, cancellationToken, "filter", "replace", "dev", from, "parent", IpRoute2.IngressParent, "pref", IpRoute2.FilterPref,
                "handle", "800::800", "protocol", "all", "u32", "match", "u32", "0", "0",
                "action", "mirred", "egress", "redirect", "dev", to).ConfigureAwait(false);
        }

        TcFilterLog.EndpointReady(_logger, sandboxId, spec.Name, netns.Path, host, tap, string.Join(", ", spec.GuestAddresses));
        return new InterfaceRecord
        {
            Device = spec.Name,
            Name = spec.Name,
            IpAddresses = spec.GuestAddresses,
            Mtu = spec.Mtu,
            HwAddr = spec.Mac,
            TapDevice = tap,
            LinkType = "veth",
        };
    }

    private async Task RemoveEndpointAsync(string sandboxId, Netns? netns, string name, CancellationToken cancellationToken)
    {
        var host = HostDeviceOf(sandboxId, name);
        var tap = TcFilterNames.Tap(name);
        if (netns is not null)
        {
            var links = await _ip.LinksAsync(netns, cancellationToken).ConfigureAwait(false);
            foreach (var device in (string[])[name, tap])
            {
                if (!links.ContainsKey(device))
                {
                    continue;
                }

                bool Gone(IReadOnlyDictionary<string, LinkInfo> now) => !now.ContainsKey(device);
                if ((await _ip.RedirectsAsync(netns, device, cancellationToken).ConfigureAwait(false)).Count > 0)
                {
                    await RemoveAsync(
                        sandboxId,
                        () => _ip.TcAsync(netns, cancellationToken, "filter", "delete", "dev", device, "parent", IpRoute2.IngressParent, "pref", IpRoute2.FilterPref),
                        async () => !Gone(await _ip.LinksAsync(netns, cancellationToken).ConfigureAwait(false))
                            && (await _ip.RedirectsAsync(netns, device, cancellationToken).ConfigureAwait(false)).Count > 0).ConfigureAwait(false);
                }

                if (await _ip.HasIngressAsync(netns, device, cancellationToken).ConfigureAwait(false))
                {
                    await RemoveAsync(
                        sandboxId,
                        () => _ip.TcAsync(netns, cancellationToken, "qdisc", "delete", "dev", device, "ingress"),
                        async () => !Gone(await _ip.LinksAsync(netns, cancellationToken).ConfigureAwait(false))
                            && await _ip.HasIngressAsync(netns, device, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
                }
            }

            if (links.ContainsKey(tap))
            {
                await RemoveAsync(
                    sandboxId,
                    () => _ip.IpAsync(netns, cancellationToken, "link", "delete", "dev", tap),
                    async () => (await _ip.LinksAsync(netns, cancellationToken).ConfigureAwait(false)).ContainsKey(tap)).ConfigureAwait(false);
            }
        }

        // The host end goes last and takes its peer in the namespace with it. A device of that name in the namespace
        // whose host end is not there is not this driver's (a pair is made and removed whole), so it is left alone.
        if ((await _ip.LinksAsync(null, cancellationToken).ConfigureAwait(false)).ContainsKey(host))
        {
            await RemoveAsync(
                sandboxId,
                () => _ip.IpAsync(null, cancellationToken, "link", "delete", "dev", host),
                async () => (await _ip.LinksAsync(null, cancellationToken).ConfigureAwait(false)).ContainsKey(host)).ConfigureAwait(false);
        }

        TcFilterLog.EndpointRemoved(_logger, sandboxId, name, host, tap);
    }

    /// <summary>Runs a removal; its failure counts as done when what it removes is gone (removed meanwhile, or with its device).</summary>
    private async Task RemoveAsync(string sandboxId, Func<Task<string>> remove, Func<Task<bool>> stillThere)
    {
        try
        {
            await remove().ConfigureAwait(false);
        }
        catch (NetworkCommandException ex)
        {
            if (await stillThere().ConfigureAwait(false))
            {
                throw;
            }

            TcFilterLog.AlreadyGone(_logger, sandboxId, ex.Command);
        }
    }

    private static (IPAddress Guest, IPAddress Gateway, int Prefix) PoolAddresses(string subnet)
    {
        var network = IPNetwork.Parse(subnet);
        return (Offset(network.BaseAddress, 2), Offset(network.BaseAddress, 1), network.PrefixLength);
    }

    private static (IPAddress Guest, IPAddress Gateway, int Prefix) ConfiguredAddresses(NetworkConfig config)
    {
        if (!NetworkAddresses.TryParse(config.IpAddress, out var guest, out var prefix))
        {
            throw new InvalidSandboxArgumentException("sandboxConfig.networkConfig.ipAddress", $"sandboxConfig.networkConfig.ipAddress is not an address with a prefix length: '{config.IpAddress}'");
        }

        if (!string.IsNullOrEmpty(config.Gateway))
        {
            return (guest, IPAddress.Parse(config.Gateway), prefix);
        }

        var bits = guest.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (bits - prefix < 2)
        {
            throw new InvalidSandboxArgumentException(
                "sandboxConfig.networkConfig.gateway", $"sandboxConfig.networkConfig.gateway is needed: {config.IpAddress} leaves no room for one; give it, or a shorter prefix");
        }

        var first = Offset(NetworkAddresses.Network(guest, prefix), 1);
        return (guest, first.Equals(guest) ? Offset(first, 1) : first, prefix);
    }

    private static IPAddress Offset(IPAddress address, int offset)
    {
        var bytes = address.GetAddressBytes();
        var carry = offset;
        for (var i = bytes.Length - 1; i >= 0 && carry > 0; i--)
        {
            var sum = bytes[i] + carry;
            bytes[i] = (byte)sum;
            carry = sum >> 8;
        }

        return new IPAddress(bytes);
    }

    private sealed record EndpointSpec(string Name, string Mac, int Mtu, IReadOnlyList<string> GuestAddresses, IReadOnlyList<string> HostAddresses);
}
