using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

public sealed partial class QemuHypervisor
{
    /// <inheritdoc />
    /// <remarks>
    /// Block devices only (<c>devType</c> b): QMP <c>blockdev-add</c> of the host path (<c>file</c> driver, or
    /// <c>host_device</c> for a block special file), then <c>device_add virtio-blk-pci</c> on a free PCIe root port.
    /// The device is found again by a QEMU id derived from its id, so adding it twice returns it.
    /// </remarks>
    public async Task<DeviceRecord> AddDeviceAsync(string sandboxId, DeviceRecord device, int blockIndex, CancellationToken cancellationToken)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        ArgumentNullException.ThrowIfNull(device);
        if (device.DevType != "b")
        {
            throw new InvalidSandboxArgumentException("device.devType", $"device.devType '{device.DevType}' cannot be attached by the qemu driver: only block devices (b) are");
        }

        var path = QemuArguments.SafePath(device.HostPath, "device.hostPath");
        var isBlock = UnixFiles.IsBlockDevice(path);
        if (!isBlock && !UnixFiles.IsRegularFile(path))
        {
            throw new InvalidSandboxArgumentException("device.hostPath", $"device.hostPath must be an existing block device or regular file: '{path}'");
        }

        var deviceId = QemuArguments.IdFromDevice("blk", device.Id);
        var node = QemuArguments.IdFromDevice("drive", device.Id);
        using var held = await _locks.AcquireAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        var qmp = await ConnectVmAsync(sandboxId, null, cancellationToken).ConfigureAwait(false);
        await using var qmpScope = qmp.ConfigureAwait(false);
        var pci = PciView.Read(await qmp.QueryPciAsync(cancellationToken).ConfigureAwait(false));
        if (pci.Devices.ContainsKey(deviceId))
        {
            return device;
        }

        var port = pci.FreePort() ?? throw NoFreePort(sandboxId, device.Id);

        // A node left by an attempt that died between its two steps is replaced.
        await IgnoreMissingAsync(() => qmp.BlockdevDelAsync(node, cancellationToken)).ConfigureAwait(false);
        await qmp.BlockdevAddAsync(
            new JsonObject
            {
                ["driver"] = "raw",
                ["node-name"] = node,
                ["file"] = new JsonObject { ["driver"] = isBlock ? "host_device" : "file", ["filename"] = path },
            },
            cancellationToken).ConfigureAwait(false);
        try
        {
            await qmp.DeviceAddAsync(new JsonObject { ["driver"] = "virtio-blk-pci", ["id"] = deviceId, ["drive"] = node, ["bus"] = port }, cancellationToken).ConfigureAwait(false);
        }
        catch (QmpException)
        {
            await IgnoreMissingAsync(() => qmp.BlockdevDelAsync(node, CancellationToken.None)).ConfigureAwait(false);
            throw;
        }

        QemuLog.Plugged(_logger, sandboxId, device.Id, "virtio-blk-pci", port);
        return device;
    }

    /// <inheritdoc />
    /// <remarks>
    /// QMP <c>netdev_add</c> of a tap backend on the endpoint's <see cref="InterfaceRecord.TapDevice"/> (opened by QEMU in
    /// its own network namespace, the sandbox's), then <c>device_add virtio-net-pci</c> with the endpoint's MAC on a free
    /// PCIe root port. The result carries the guest PCI path (<c>port/slot</c>, Kata's form). An endpoint without a
    /// tap has nothing to plug and is returned as it is.
    /// </remarks>
    public async Task<InterfaceRecord> AddInterfaceAsync(string sandboxId, VmState? vm, InterfaceRecord iface, CancellationToken cancellationToken)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        ArgumentNullException.ThrowIfNull(iface);
        if (iface.TapDevice.Length == 0)
        {
            return iface;
        }

        var tap = QemuArguments.InterfaceName(iface.TapDevice, "interface.tapDevice");
        var mac = QemuArguments.MacAddress(iface.HwAddr, "interface.hwAddr");
        var deviceId = QemuArguments.IdFromMac("nic", mac);
        var netdev = QemuArguments.IdFromMac("net", mac);
        using var held = await _locks.AcquireAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        var qmp = await ConnectVmAsync(sandboxId, vm, cancellationToken).ConfigureAwait(false);
        await using var qmpScope = qmp.ConfigureAwait(false);
        var pci = PciView.Read(await qmp.QueryPciAsync(cancellationToken).ConfigureAwait(false));
        if (pci.Devices.TryGetValue(deviceId, out var plugged))
        {
            return iface with { PciAddr = plugged };
        }

        // QEMU (root) would make a tap of that name if there were none, and the NIC would lead nowhere: the tap must
        // already be in QEMU's network namespace, which /proc/<qemu>/net/dev lists.
        var qemu = QemuProcesses.Find(RunDirectoryOf(sandboxId), vm?.Pid ?? 0);
        if (qemu is { } running && !QemuProcesses.HasLink(running.Pid, tap))
        {
            throw new InvalidSandboxArgumentException("interface.tapDevice", $"interface.tapDevice: there is no network device '{tap}' in the network namespace of the VM of sandbox '{sandboxId}'");
        }

        var port = pci.FreePort() ?? throw NoFreePort(sandboxId, iface.Name);
        await IgnoreMissingAsync(() => qmp.NetdevDelAsync(netdev, cancellationToken)).ConfigureAwait(false);
        await qmp.NetdevAddTapAsync(netdev, tap, cancellationToken).ConfigureAwait(false);
        try
        {
            await qmp.DeviceAddAsync(new JsonObject { ["driver"] = "virtio-net-pci", ["id"] = deviceId, ["netdev"] = netdev, ["mac"] = mac, ["bus"] = port }, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (QmpException)
        {
            await IgnoreMissingAsync(() => qmp.NetdevDelAsync(netdev, CancellationToken.None)).ConfigureAwait(false);
            throw;
        }

        pci = PciView.Read(await qmp.QueryPciAsync(cancellationToken).ConfigureAwait(false));
        QemuLog.Plugged(_logger, sandboxId, deviceId, "virtio-net-pci", port);
        return iface with { PciAddr = pci.Devices.GetValueOrDefault(deviceId) ?? iface.PciAddr };
    }

    /// <inheritdoc />
    /// <remarks>QMP <c>device_del</c>, waiting for the guest to release the NIC (<see cref="QemuHypervisorOptions.DeviceRemoveTimeout"/>), then <c>netdev_del</c>.</remarks>
    public async Task RemoveInterfaceAsync(string sandboxId, VmState? vm, InterfaceRecord iface, CancellationToken cancellationToken)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        ArgumentNullException.ThrowIfNull(iface);
        if (iface.HwAddr.Length == 0)
        {
            return;
        }

        var mac = QemuArguments.MacAddress(iface.HwAddr, "interface.hwAddr");
        var deviceId = QemuArguments.IdFromMac("nic", mac);
        var netdev = QemuArguments.IdFromMac("net", mac);
        using var held = await _locks.AcquireAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        if (QemuProcesses.Find(RunDirectoryOf(sandboxId), vm?.Pid ?? 0) is null)
        {
            // The VM is gone, and its NICs with it.
            return;
        }

        var qmp = await ConnectVmAsync(sandboxId, vm, cancellationToken).ConfigureAwait(false);

        await using var qmpScope = qmp.ConfigureAwait(false);
        var pci = PciView.Read(await qmp.QueryPciAsync(cancellationToken).ConfigureAwait(false));
        if (pci.Devices.ContainsKey(deviceId))
        {
            await qmp.DeviceDelAsync(deviceId, _options.DeviceRemoveTimeout, cancellationToken).ConfigureAwait(false);
            QemuLog.Unplugged(_logger, sandboxId, deviceId);
        }

        await IgnoreMissingAsync(() => qmp.NetdevDelAsync(netdev, cancellationToken)).ConfigureAwait(false);
    }

    private static InvalidOperationException NoFreePort(string sandboxId, string what) =>
        new($"The VM of sandbox '{sandboxId}' has no free PCIe root port for {what}: every one of them holds a device ({QemuHypervisorOptions.SectionName}:HotplugSlots sets how many a VM gets).");

    private static async Task IgnoreMissingAsync(Func<Task> call)
    {
        try
        {
            await call().ConfigureAwait(false);
        }
        catch (QmpException ex) when (ex.ErrorClass == "DeviceNotFound"
            || ex.Description.Contains("not found", StringComparison.OrdinalIgnoreCase)
            || ex.Description.Contains("find node", StringComparison.OrdinalIgnoreCase))
        {
            // Nothing to remove.
        }
    }

    /// <summary>What <c>query-pci</c> says: the devices with a QEMU id and their PCI path, and the root ports.</summary>
    private sealed class PciView
    {
        private readonly SortedDictionary<int, (string Id, bool Free)> _ports = [];

        public Dictionary<string, string> Devices { get; } = new(StringComparer.Ordinal);

        public static PciView Read(JsonElement buses)
        {
            var view = new PciView();
            if (buses.ValueKind == JsonValueKind.Array)
            {
                foreach (var bus in buses.EnumerateArray())
                {
                    if (bus.TryGetProperty("devices", out var devices))
                    {
                        view.Walk(devices, null);
                    }
                }
            }

            return view;
        }

        public string? FreePort() => _ports.Values.Where(p => p.Free).Select(p => p.Id).FirstOrDefault();

        private void Walk(JsonElement devices, int? parentSlot)
        {
            if (devices.ValueKind != JsonValueKind.Array)
            {
                return;
            }

            foreach (var device in devices.EnumerateArray())
            {
                var slot = device.TryGetProperty("slot", out var s) && s.TryGetInt32(out var n) ? n : 0;
                var id = device.TryGetProperty("qdev_id", out var q) && q.ValueKind == JsonValueKind.String ? q.GetString()! : string.Empty;
                if (id.Length > 0)
                {
                    Devices[id] = parentSlot is { } parent
                        ? string.Create(CultureInfo.InvariantCulture, $"{parent:x2}/{slot:x2}")
                        : string.Create(CultureInfo.InvariantCulture, $"{slot:x2}");
                }

                if (device.TryGetProperty("pci_bridge", out var bridge) && bridge.ValueKind == JsonValueKind.Object)
                {
                    var children = bridge.TryGetProperty("devices", out var c) ? c : default;
                    if (id.StartsWith("rp", StringComparison.Ordinal) && int.TryParse(id.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                    {
                        _ports[index] = (id, children.ValueKind != JsonValueKind.Array || children.GetArrayLength() == 0);
                    }

                    Walk(children, slot);
                }
            }
        }
    }
}
