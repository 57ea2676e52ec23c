using System.Net;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Orchestrations.Sandboxes;

internal sealed partial class SandboxSession
{
    /// <summary>AddInterface: hot-plug a NIC into a ready or running sandbox and configure it in the guest.</summary>
    public async Task<SandboxOperationResult> AddInterfaceAsync(InterfaceRecord? requested)
    {
        var iface = ValidateInterface(requested);
        var record = RequireSandbox();
        RequireSandboxState("Sandbox not ready or running, impossible to add an interface", SandboxState.Ready, SandboxState.Running);
        var endpoints = record.Network?.Endpoints ?? [];
        if (iface.HwAddr.Length > 0 && endpoints.Any(e => string.Equals(e.HwAddr, iface.HwAddr, StringComparison.OrdinalIgnoreCase)))
        {
            throw new SandboxAlreadyExistsException($"An interface with MAC {iface.HwAddr} already exists");
        }

        if (endpoints.Any(e => e.Name == iface.Name))
        {
            throw new SandboxAlreadyExistsException($"An interface named {iface.Name} already exists");
        }

        var added = await StepAsync<InterfaceRecord>(SandboxActivities.AddInterface, new InterfaceRequest(Target, record.Network, iface, record.Vm));
        var network = record.Network ?? new NetworkState();
        Update(record with { Network = network with { Endpoints = [.. network.Endpoints, added] } });
        await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        return Result() with { Interface = added };
    }

    /// <summary>RemoveInterface: matched by MAC; as in Kata, an interface that is not there is not an error (null result).</summary>
    public async Task<SandboxOperationResult> RemoveInterfaceAsync(InterfaceRecord? requested)
    {
        if (requested is null || string.IsNullOrEmpty(requested.HwAddr))
        {
            throw new InvalidSandboxArgumentException("interface.hwAddr", "interface.hwAddr is required to remove an interface");
        }

        var record = RequireSandbox();
        var existing = record.Network?.Endpoints.FirstOrDefault(e => string.Equals(e.HwAddr, requested.HwAddr, StringComparison.OrdinalIgnoreCase));
        if (existing is null)
        {
            return Result() with { Note = $"No interface with MAC {requested.HwAddr}: nothing removed" };
        }

        await StepAsync<bool>(SandboxActivities.RemoveInterface, new InterfaceRequest(Target, record.Network, existing, record.Vm));
        Update(record with { Network = record.Network! with { Endpoints = record.Network.Endpoints.Where(e => e != existing).ToList() } });
        await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        return Result() with { Interface = existing };
    }

    /// <summary>UpdateRoutes: the guest's routes become exactly the given ones.</summary>
    public async Task<SandboxOperationResult> UpdateRoutesAsync(IReadOnlyList<RouteRecord>? routes)
    {
        if (routes is null)
        {
            throw new InvalidSandboxArgumentException("routes", "routes are required (an empty list removes every route)");
        }

        for (var i = 0; i < routes.Count; i++)
        {
            ValidateRoute(routes[i], $"routes[{i}]");
        }

        var record = RequireSandbox();
        RequireSandboxState("Sandbox not ready or running, impossible to update routes", SandboxState.Ready, SandboxState.Running);
        var applied = await StepAsync<List<RouteRecord>>(SandboxActivities.UpdateRoutes, new RoutesRequest(Target, routes));
        Update(record with { Routes = applied });
        await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        return Result() with { Routes = applied };
    }

    /// <summary>AddDevice: attach a device, giving a block device the next free index.</summary>
    public async Task<SandboxOperationResult> AddDeviceAsync(DeviceRecord? device)
    {
        if (device is null)
        {
            throw new InvalidSandboxArgumentException("device", "A device is required");
        }

        SandboxIds.ValidateContainerId(device.Id, "device.id");
        if (string.IsNullOrEmpty(device.HostPath) || !device.HostPath.StartsWith('/'))
        {
            throw new InvalidSandboxArgumentException("device.hostPath", $"device.hostPath must be an absolute path, got '{device.HostPath}'");
        }

        if (device.DevType is not ("b" or "c" or "u"))
        {
            throw new InvalidSandboxArgumentException("device.devType", $"device.devType must be b, c or u, got '{device.DevType}'");
        }

        var record = RequireSandbox();
        if (record.Devices.Any(d => d.Id == device.Id))
        {
            throw new SandboxAlreadyExistsException($"Device {device.Id} already exists");
        }

        var index = record.BlockIndexMap.Count == 0 ? 0 : record.BlockIndexMap.Values.Max() + 1;
        var added = await StepAsync<DeviceRecord>(SandboxActivities.AddDevice, new DeviceRequest(Target, device, index));
        var map = new Dictionary<string, int>(record.BlockIndexMap);
        if (added.DevType == "b")
        {
            map[added.Id] = index;
        }

        Update(record with { Devices = [.. record.Devices, added], BlockIndexMap = map });
        await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        return Result() with { Device = added };
    }

    private static InterfaceRecord ValidateInterface(InterfaceRecord? iface)
    {
        if (iface is null)
        {
            throw new InvalidSandboxArgumentException("interface", "An interface is required");
        }

        if (string.IsNullOrEmpty(iface.Name) || iface.Name.Length > 15 || iface.Name.Any(c => char.IsWhiteSpace(c) || c == '/'))
        {
            throw new InvalidSandboxArgumentException("interface.name", $"interface.name must be 1 to 15 characters without spaces or '/', got '{iface.Name}'");
        }

        if (iface.Mtu is < 68 or > 65535)
        {
            throw new InvalidSandboxArgumentException("interface.mtu", $"interface.mtu must be between 68 and 65535, got {iface.Mtu}");
        }

        if (iface.HwAddr.Length > 0 && !PhysicalAddressText.IsValid(iface.HwAddr))
        {
            throw new InvalidSandboxArgumentException("interface.hwAddr", $"interface.hwAddr is not a MAC address: '{iface.HwAddr}'");
        }

        for (var i = 0; i < iface.IpAddresses.Count; i++)
        {
            if (!IPNetwork.TryParse(iface.IpAddresses[i], out _) && !IsAddressWithPrefix(iface.IpAddresses[i]))
            {
                throw new InvalidSandboxArgumentException($"interface.ipAddresses[{i}]", $"interface.ipAddresses[{i}] is not an address with a prefix length: '{iface.IpAddresses[i]}'");
            }
        }

        return iface;
    }

    private static bool IsAddressWithPrefix(string text)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && IPAddress.TryParse(text.AsSpan(0, slash), out var address)
            && int.TryParse(text.AsSpan(slash + 1), System.Globalization.CultureInfo.InvariantCulture, out var prefix)
            && prefix >= 0 && prefix <= (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
    }

    private static void ValidateRoute(RouteRecord route, string field)
    {
        if (route.Dest.Length > 0 && route.Dest != "default" && !IsAddressWithPrefix(route.Dest))
        {
            throw new InvalidSandboxArgumentException($"{field}.dest", $"{field}.dest is not a network with a prefix length: '{route.Dest}'");
        }

        if (route.Gateway.Length > 0 && !IPAddress.TryParse(route.Gateway, out _))
        {
            throw new InvalidSandboxArgumentException($"{field}.gateway", $"{field}.gateway is not an IP address: '{route.Gateway}'");
        }

        if (string.IsNullOrEmpty(route.Device))
        {
            throw new InvalidSandboxArgumentException($"{field}.device", $"{field}.device is required");
        }
    }
}

/// <summary>MAC address text in the usual colon-separated form.</summary>
internal static class PhysicalAddressText
{
    public static bool IsValid(string text)
    {
        var parts = text.Split(':');
        return parts.Length == 6 && parts.All(p => p.Length == 2 && p.All(Uri.IsHexDigit));
    }
}
