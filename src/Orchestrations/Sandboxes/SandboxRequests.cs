using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Orchestrations.Sandboxes;

/// <summary>The input of every sandbox orchestration: which sandbox, and the call's own arguments.</summary>
public sealed record SandboxRequest
{
    /// <summary>The sandbox.</summary>
    public string SandboxId { get; init; } = string.Empty;

    /// <summary>The configuration, for CreateSandbox and RunSandbox.</summary>
    public SandboxConfig? Config { get; init; }

    /// <summary>The container, for container calls and CleanupContainer.</summary>
    public string? ContainerId { get; init; }

    /// <summary>The container configuration, for CreateContainer.</summary>
    public ContainerConfig? Container { get; init; }

    /// <summary>Force: driver errors are recorded and skipped, as in Kata (StopSandbox, StopContainer, CleanupContainer).</summary>
    public bool Force { get; init; }

    /// <summary>The signal, for KillContainer.</summary>
    public int Signal { get; init; }

    /// <summary>Signal every process, for KillContainer.</summary>
    public bool All { get; init; }

    /// <summary>The command, for EnterContainer.</summary>
    public Cmd? Cmd { get; init; }

    /// <summary>The resources, for UpdateContainer.</summary>
    public ContainerResources? Resources { get; init; }

    /// <summary>The interface, for AddInterface and RemoveInterface.</summary>
    public InterfaceRecord? Interface { get; init; }

    /// <summary>The routes, for UpdateRoutes.</summary>
    public IReadOnlyList<RouteRecord>? Routes { get; init; }

    /// <summary>The device, for AddDevice.</summary>
    public DeviceRecord? Device { get; init; }

    /// <summary>The longest one step may take before the call gives up and undoes what it did; no limit when null.</summary>
    public TimeSpan? StepTimeout { get; init; }
}

/// <summary>What a sandbox call returns: the sandbox's status after it, and the call's own result.</summary>
public sealed record SandboxOperationResult
{
    /// <summary>The sandbox after the call; null when it was deleted.</summary>
    public SandboxStatus? Sandbox { get; init; }

    /// <summary>The process started, for EnterContainer.</summary>
    public Contracts.ProcessInfo? Process { get; init; }

    /// <summary>The interface added or removed (null when RemoveInterface found none, as in Kata).</summary>
    public InterfaceRecord? Interface { get; init; }

    /// <summary>The routes applied, for UpdateRoutes.</summary>
    public IReadOnlyList<RouteRecord>? Routes { get; init; }

    /// <summary>The device added, for AddDevice.</summary>
    public DeviceRecord? Device { get; init; }

    /// <summary>
    /// Why the call changed nothing, or what it skipped, when it succeeded without doing it all: a stop of a stopped
    /// sandbox or container, a SIGKILL to a container that has nothing to kill or that the agent refused (Kata's
    /// SIGKILL never fails), a RemoveInterface that found no interface. Null when the call did all it was asked. It is
    /// part of the run's output, so the history records it.
    /// </summary>
    public string? Note { get; init; }
}

/// <summary>A sandbox's status (Kata's <c>SandboxStatus</c>).</summary>
public sealed record SandboxStatus
{
    /// <summary>The sandbox id.</summary>
    public required string Id { get; init; }

    /// <summary>Its state.</summary>
    public required SandboxState State { get; init; }

    /// <summary>The hypervisor type.</summary>
    public required string Hypervisor { get; init; }

    /// <summary>The agent type.</summary>
    public required string Agent { get; init; }

    /// <summary>The containers' statuses.</summary>
    public IReadOnlyList<ContainerStatus> Containers { get; init; } = [];

    /// <summary>Annotations.</summary>
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();

    /// <summary>The operation in progress, if any.</summary>
    public string? PendingOperation { get; init; }

    /// <summary>Why the sandbox needs cleanup, if it does.</summary>
    public string? CleanupReason { get; init; }

    /// <summary>The status of a record.</summary>
    public static SandboxStatus Of(SandboxRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return new SandboxStatus
        {
            Id = record.Id,
            State = record.State,
            Hypervisor = record.Config.HypervisorType,
            Agent = record.Config.AgentType,
            Containers = record.Containers.Select(ContainerStatus.Of).ToList(),
            Annotations = record.Annotations,
            PendingOperation = record.PendingOperation,
            CleanupReason = record.CleanupReason,
        };
    }
}

/// <summary>A container's status (Kata's <c>ContainerStatus</c>).</summary>
public sealed record ContainerStatus
{
    /// <summary>The container id.</summary>
    public required string Id { get; init; }

    /// <summary>Its state.</summary>
    public required SandboxState State { get; init; }

    /// <summary>Its first process id.</summary>
    public int Pid { get; init; }

    /// <summary>When it was created.</summary>
    public DateTime StartTime { get; init; }

    /// <summary>Its root file system.</summary>
    public string? RootFs { get; init; }

    /// <summary>Annotations.</summary>
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();

    /// <summary>The status of a record.</summary>
    public static ContainerStatus Of(ContainerRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return new ContainerStatus
        {
            Id = record.Id,
            State = record.State,
            Pid = record.Pid,
            StartTime = record.StartTime,
            RootFs = record.Config.RootFs,
            Annotations = record.Config.Annotations,
        };
    }
}
