namespace KataWorkflows.Orchestrations.Model;

/// <summary>
/// The durable record of a sandbox: what the <c>@sandbox@&lt;id&gt;</c> entity holds, and what Kata's
/// <c>persist.json</c> holds. Every mutating operation replaces it whole, under the entity's lock.
/// </summary>
public sealed record SandboxRecord
{
    /// <summary>The sandbox id.</summary>
    public required string Id { get; init; }

    /// <summary>The validated configuration it was created with.</summary>
    public required SandboxConfig Config { get; init; }

    /// <summary>The sandbox state.</summary>
    public SandboxState State { get; init; } = SandboxState.Ready;

    /// <summary>Containers by id, in creation order.</summary>
    public IReadOnlyList<ContainerRecord> Containers { get; init; } = [];

    /// <summary>The network namespace and its endpoints.</summary>
    public NetworkState? Network { get; init; }

    /// <summary>The VM, once started.</summary>
    public VmState? Vm { get; init; }

    /// <summary>What the guest reported about itself.</summary>
    public GuestDetails? GuestDetails { get; init; }

    /// <summary>Devices added to the sandbox.</summary>
    public IReadOnlyList<DeviceRecord> Devices { get; init; } = [];

    /// <summary>Block device index per device id.</summary>
    public IReadOnlyDictionary<string, int> BlockIndexMap { get; init; } = new Dictionary<string, int>();

    /// <summary>Routes last applied to the guest.</summary>
    public IReadOnlyList<RouteRecord> Routes { get; init; } = [];

    /// <summary>Annotations.</summary>
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();

    /// <summary>The operation in progress on the sandbox (its instance id), while a multi-step call runs.</summary>
    public string? PendingOperation { get; init; }

    /// <summary>Set when a failed operation could not be undone: why the sandbox needs cleanup.</summary>
    public string? CleanupReason { get; init; }

    /// <summary>The operation instance ids that changed this record, oldest first.</summary>
    public IReadOnlyList<string> Operations { get; init; } = [];

    /// <summary>When the record was last written (orchestration time).</summary>
    public DateTime UpdatedAt { get; init; }

    /// <summary>The container with an id, or null.</summary>
    public ContainerRecord? FindContainer(string id) => Containers.FirstOrDefault(c => c.Id == id);

    /// <summary>A copy with one container replaced (or added at the end).</summary>
    public SandboxRecord WithContainer(ContainerRecord container)
    {
        var list = Containers.ToList();
        var index = list.FindIndex(c => c.Id == container.Id);
        if (index >= 0)
        {
            list[index] = container;
        }
        else
        {
            list.Add(container);
        }

        return this with { Containers = list };
    }

    /// <summary>A copy without a container.</summary>
    public SandboxRecord WithoutContainer(string id) => this with { Containers = Containers.Where(c => c.Id != id).ToList() };
}

/// <summary>A container of a sandbox.</summary>
public sealed record ContainerRecord
{
    /// <summary>The container id.</summary>
    public required string Id { get; init; }

    /// <summary>Its configuration.</summary>
    public required ContainerConfig Config { get; init; }

    /// <summary>Its state.</summary>
    public SandboxState State { get; init; } = SandboxState.Ready;

    /// <summary>The process id of its first process (0 with the noop agent).</summary>
    public int Pid { get; init; }

    /// <summary>The agent's token for its first process.</summary>
    public string? Token { get; init; }

    /// <summary>When it was created.</summary>
    public DateTime StartTime { get; init; }
}

/// <summary>The network namespace a sandbox runs in and its endpoints.</summary>
public sealed record NetworkState
{
    /// <summary>The namespace path (empty for the host namespace).</summary>
    public string NetNsPath { get; init; } = string.Empty;

    /// <summary>True when this host created the namespace and removes it with the sandbox.</summary>
    public bool NetNsCreated { get; init; }

    /// <summary>The endpoints (interfaces) in the namespace.</summary>
    public IReadOnlyList<InterfaceRecord> Endpoints { get; init; } = [];

    /// <summary>
    /// The routes the namespace has through its endpoints, which the guest should get (Kata scans them from the
    /// namespace and sends them with <c>UpdateRoutes</c>); empty when the driver sets none.
    /// </summary>
    public IReadOnlyList<RouteRecord> Routes { get; init; } = [];
}

/// <summary>A network interface of the sandbox (Kata's <c>vcTypes.Interface</c>).</summary>
public sealed record InterfaceRecord
{
    /// <summary>The device name on the host side (a veth or tap).</summary>
    public string Device { get; init; } = string.Empty;

    /// <summary>The name in the guest.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>IP addresses with prefix lengths, e.g. 10.1.0.2/24.</summary>
    public IReadOnlyList<string> IpAddresses { get; init; } = [];

    /// <summary>The MTU.</summary>
    public int Mtu { get; init; } = 1500;

    /// <summary>The MAC address.</summary>
    public string HwAddr { get; init; } = string.Empty;

    /// <summary>The PCI address in the guest, once hot-plugged.</summary>
    public string? PciAddr { get; init; }

    /// <summary>The endpoint type (veth, tap...).</summary>
    public string LinkType { get; init; } = "veth";

    /// <summary>
    /// The tap device in the sandbox's network namespace that the hypervisor attaches the VM's NIC to (Kata's
    /// <c>NetPair.TapInterface</c>); empty when the endpoint has none (network <c>none</c>).
    /// </summary>
    public string TapDevice { get; init; } = string.Empty;
}

/// <summary>A route in the guest (Kata's <c>vcTypes.Route</c>).</summary>
public sealed record RouteRecord
{
    /// <summary>The destination network, empty for the default route.</summary>
    public string Dest { get; init; } = string.Empty;

    /// <summary>The gateway.</summary>
    public string Gateway { get; init; } = string.Empty;

    /// <summary>The interface name.</summary>
    public string Device { get; init; } = string.Empty;

    /// <summary>The source address.</summary>
    public string Source { get; init; } = string.Empty;

    /// <summary>The scope.</summary>
    public int Scope { get; init; }
}

/// <summary>The VM of a started sandbox.</summary>
public sealed record VmState
{
    /// <summary>The hypervisor type.</summary>
    public required string HypervisorType { get; init; }

    /// <summary>The hypervisor process id (0 for the mock).</summary>
    public int Pid { get; init; }

    /// <summary>The VM's UUID.</summary>
    public string Uuid { get; init; } = string.Empty;

    /// <summary>The VM's run directory (QMP, console and agent sockets).</summary>
    public string? RunDirectory { get; init; }

    /// <summary>True while the VM is paused.</summary>
    public bool Paused { get; init; }
}

/// <summary>What the guest reports about itself (Kata's <c>GuestDetailsResponse</c>).</summary>
public sealed record GuestDetails
{
    /// <summary>The guest memory block size in bytes.</summary>
    public long MemBlockSizeBytes { get; init; }

    /// <summary>Whether memory hot-plug by probe is supported.</summary>
    public bool SupportMemHotplugProbe { get; init; }

    /// <summary>Whether the guest supports seccomp.</summary>
    public bool SupportSeccomp { get; init; }
}

/// <summary>A device added to the sandbox.</summary>
public sealed record DeviceRecord
{
    /// <summary>The device id.</summary>
    public required string Id { get; init; }

    /// <summary>The host path.</summary>
    public required string HostPath { get; init; }

    /// <summary>The path in the container.</summary>
    public string ContainerPath { get; init; } = string.Empty;

    /// <summary>The device type: b (block), c (character) or u.</summary>
    public string DevType { get; init; } = "b";

    /// <summary>The major number.</summary>
    public long Major { get; init; }

    /// <summary>The minor number.</summary>
    public long Minor { get; init; }
}
