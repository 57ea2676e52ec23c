using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Networks.None;

/// <summary>
/// Interworking model <c>none</c>: the VM stays in the host's network namespace, so there is no namespace to create
/// or remove (an empty path, <c>NetNsCreated</c> false). Interfaces are recorded as given; one without a MAC address
/// gets a locally administered unicast address derived from the sandbox id and the interface name, so adding the
/// same interface again yields the same address. The recorded interfaces can be read back for tests.
/// </summary>
public sealed class NoneNetwork : INetworkDriver
{
    /// <summary>The interworking model name.</summary>
    public const string ModelName = "none";

    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, InterfaceRecord>> _interfaces = new(StringComparer.Ordinal);

    /// <summary>The interfaces recorded for a sandbox and not removed.</summary>
    public IReadOnlyCollection<InterfaceRecord> InterfacesOf(string sandboxId) =>
        _interfaces.TryGetValue(sandboxId, out var map) ? map.Values.ToList() : [];

    /// <inheritdoc />
    public Task<NetworkState> CreateAsync(string sandboxId, NetworkConfig config, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(new NetworkState { NetNsPath = string.Empty, NetNsCreated = false, Endpoints = [] });
    }

    /// <inheritdoc />
    public Task RemoveAsync(string sandboxId, NetworkState state, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        cancellationToken.ThrowIfCancellationRequested();
        _interfaces.TryRemove(sandboxId, out _);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<InterfaceRecord> AddInterfaceAsync(string sandboxId, NetworkState? state, InterfaceRecord iface, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        ArgumentNullException.ThrowIfNull(iface);
        cancellationToken.ThrowIfCancellationRequested();
        var added = string.IsNullOrEmpty(iface.HwAddr) ? iface with { HwAddr = LocalMac(sandboxId, iface.Name) } : iface;
        var map = _interfaces.GetOrAdd(sandboxId, _ => new ConcurrentDictionary<string, InterfaceRecord>(StringComparer.OrdinalIgnoreCase));
        return Task.FromResult(map.GetOrAdd(added.HwAddr, added));
    }

    /// <inheritdoc />
    public Task RemoveInterfaceAsync(string sandboxId, NetworkState? state, InterfaceRecord iface, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        ArgumentNullException.ThrowIfNull(iface);
        cancellationToken.ThrowIfCancellationRequested();
        if (_interfaces.TryGetValue(sandboxId, out var map))
        {
            map.TryRemove(iface.HwAddr, out _);
        }

        return Task.CompletedTask;
    }

    /// <summary>A locally administered unicast MAC address derived from a sandbox id and an interface name.</summary>
    public static string LocalMac(string sandboxId, string interfaceName)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{sandboxId}/{interfaceName}"));

        // Bit 1 of the first octet marks the address locally administered, bit 0 clear keeps it unicast (as Kata's generator).
        hash[0] = (byte)((hash[0] | 0x02) & 0xFE);
        return string.Join(':', hash.Take(6).Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
    }
}
