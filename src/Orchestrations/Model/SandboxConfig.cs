namespace KataWorkflows.Orchestrations.Model;

/// <summary>The network of a sandbox (Kata's <c>NetworkConfig</c>).</summary>
public sealed record NetworkConfig
{
    /// <summary>An existing network namespace to use; a new one is created when empty (unless disabled).</summary>
    public string? NetNsPath { get; init; }

    /// <summary>True when the namespace at <see cref="NetNsPath"/> was created for this sandbox and is removed with it.</summary>
    public bool NetNsCreated { get; init; }

    /// <summary>Run the VM in the host's network namespace.</summary>
    public bool DisableNewNetNs { get; init; }

    /// <summary>How the VM's NIC is connected: <c>tcfilter</c> (default), <c>macvtap</c> or <c>none</c>.</summary>
    public string InterworkingModel { get; init; } = "tcfilter";

    /// <summary>
    /// The address of the sandbox's endpoint with its prefix length (e.g. <c>10.88.0.2/24</c>), the part a CNI plugin
    /// plays for Kata; empty takes a subnet from the host's address pool (<c>tcfilter</c>).
    /// </summary>
    public string? IpAddress { get; init; }

    /// <summary>
    /// The host end's address and the guest's default gateway, in the subnet of <see cref="IpAddress"/>; empty takes the
    /// subnet's first address that is not <see cref="IpAddress"/>. Only with <see cref="IpAddress"/>.
    /// </summary>
    public string? Gateway { get; init; }
}

/// <summary>A container to create (Kata's <c>ContainerConfig</c>).</summary>
public sealed record ContainerConfig
{
    /// <summary>The container id.</summary>
    public string Id { get; init; } = string.Empty;

    /// <summary>The host path of the root file system.</summary>
    public string? RootFs { get; init; }

    /// <summary>Mount the root file system read-only.</summary>
    public bool ReadonlyRootfs { get; init; }

    /// <summary>The command of the container's first process.</summary>
    public Cmd Cmd { get; init; } = new();

    /// <summary>Annotations.</summary>
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();

    /// <summary>Resource limits.</summary>
    public ContainerResources? Resources { get; init; }

    /// <summary>Checks the container config; the message names the field.</summary>
    /// <exception cref="InvalidSandboxArgumentException">The id is empty or invalid.</exception>
    public void Validate(string field = "containerConfig")
    {
        SandboxIds.ValidateContainerId(Id, $"{field}.id");
        Resources?.Validate($"{field}.resources");
    }
}

/// <summary>A command to run in a container.</summary>
public sealed record Cmd
{
    /// <summary>The program and its arguments.</summary>
    public IReadOnlyList<string> Args { get; init; } = [];

    /// <summary>Environment variables as NAME=value.</summary>
    public IReadOnlyList<string> Envs { get; init; } = [];

    /// <summary>The working directory.</summary>
    public string WorkDir { get; init; } = "/";

    /// <summary>The user to run as.</summary>
    public string? User { get; init; }

    /// <summary>Whether the process has a terminal.</summary>
    public bool Interactive { get; init; }

    /// <summary>
    /// EnterContainer only: wait for the process to exit and return its exit status and output (the first
    /// <see cref="MaxOutputBytes"/> of stdout and of stderr; the rest is read and dropped, so the process never blocks
    /// on a full pipe). The step lasts as long as the process, within the call's step timeout.
    /// </summary>
    public bool Wait { get; init; }

    /// <summary>How much of each output stream a waited-for process returns: 64 KiB (it is stored in the run's history).</summary>
    public const int MaxOutputBytes = 64 * 1024;
}

/// <summary>CPU and memory limits of a container (the parts of OCI <c>LinuxResources</c> Kata merges on update).</summary>
public sealed record ContainerResources
{
    /// <summary>CFS period in microseconds.</summary>
    public long? CpuPeriod { get; init; }

    /// <summary>CFS quota in microseconds.</summary>
    public long? CpuQuota { get; init; }

    /// <summary>Memory limit in bytes.</summary>
    public long? MemoryLimitBytes { get; init; }

    /// <summary>Checks the values; the message names the field.</summary>
    /// <exception cref="InvalidSandboxArgumentException">A value is out of range.</exception>
    public void Validate(string field)
    {
        if (CpuPeriod is < 1000 or > 1_000_000)
        {
            throw new InvalidSandboxArgumentException($"{field}.cpuPeriod", $"{field}.cpuPeriod must be between 1000 and 1000000 microseconds, got {CpuPeriod}");
        }

        if (CpuQuota is < 1000 and not -1)
        {
            throw new InvalidSandboxArgumentException($"{field}.cpuQuota", $"{field}.cpuQuota must be -1 or at least 1000 microseconds, got {CpuQuota}");
        }

        if (MemoryLimitBytes is < 4 * 1024 * 1024)
        {
            throw new InvalidSandboxArgumentException($"{field}.memoryLimitBytes", $"{field}.memoryLimitBytes must be at least 4 MiB, got {MemoryLimitBytes}");
        }
    }

    /// <summary>Kata's merge on update: values given replace the old ones, the rest stay.</summary>
    public ContainerResources MergeInto(ContainerResources? old) => new()
    {
        CpuPeriod = CpuPeriod ?? old?.CpuPeriod,
        CpuQuota = CpuQuota ?? old?.CpuQuota,
        MemoryLimitBytes = MemoryLimitBytes ?? old?.MemoryLimitBytes,
    };
}

/// <summary>What to create (Kata's <c>SandboxConfig</c>, the parts this host uses).</summary>
public sealed record SandboxConfig
{
    /// <summary>The sandbox id.</summary>
    public string Id { get; init; } = string.Empty;

    /// <summary>The guest host name.</summary>
    public string? Hostname { get; init; }

    /// <summary>The hypervisor: <c>qemu</c> or <c>mock</c>. Like Kata, an unknown type is treated as qemu.</summary>
    public string HypervisorType { get; init; } = "qemu";

    /// <summary>The VM's configuration.</summary>
    public HypervisorConfig HypervisorConfig { get; init; } = new();

    /// <summary>The agent: <c>kata</c> or <c>noop</c>. Like Kata, an unknown type falls back to noop.</summary>
    public string AgentType { get; init; } = "kata";

    /// <summary>The network.</summary>
    public NetworkConfig NetworkConfig { get; init; } = new();

    /// <summary>Containers created with the sandbox.</summary>
    public IReadOnlyList<ContainerConfig> Containers { get; init; } = [];

    /// <summary>Annotations.</summary>
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();

    /// <summary>The size of /dev/shm in bytes.</summary>
    public long ShmSize { get; init; }

    /// <summary>Share the PID namespace among containers.</summary>
    public bool SharePidNs { get; init; }

    /// <summary>
    /// Checks the whole config before anything is scheduled, and fills Kata's defaults. Every message names the
    /// field.
    /// </summary>
    /// <exception cref="InvalidSandboxArgumentException">Something is missing or invalid.</exception>
    public SandboxConfig Validated()
    {
        SandboxIds.ValidateSandboxId(Id, "sandboxConfig.id");
        var hypervisor = HypervisorType switch
        {
            "mock" => "mock",
            _ => "qemu",
        };
        var agent = AgentType switch
        {
            "kata" => "kata",
            _ => "noop",
        };
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Containers.Count; i++)
        {
            Containers[i].Validate($"sandboxConfig.containers[{i}]");
            if (!ids.Add(Containers[i].Id))
            {
                throw new InvalidSandboxArgumentException($"sandboxConfig.containers[{i}].id", $"Duplicated container: {Containers[i].Id}");
            }
        }

        if (NetworkConfig.InterworkingModel is not ("tcfilter" or "macvtap" or "none"))
        {
            throw new InvalidSandboxArgumentException(
                "sandboxConfig.networkConfig.interworkingModel",
                $"sandboxConfig.networkConfig.interworkingModel must be tcfilter, macvtap or none, got '{NetworkConfig.InterworkingModel}'");
        }

        NetworkAddresses.Validate(NetworkConfig.IpAddress, NetworkConfig.Gateway, "sandboxConfig.networkConfig");

        if (ShmSize < 0)
        {
            throw new InvalidSandboxArgumentException("sandboxConfig.shmSize", $"sandboxConfig.shmSize must not be negative, got {ShmSize}");
        }

        return this with { HypervisorType = hypervisor, AgentType = agent, HypervisorConfig = HypervisorConfig.Validated() };
    }
}
