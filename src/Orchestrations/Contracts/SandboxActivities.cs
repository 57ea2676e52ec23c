using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Orchestrations.Contracts;

/// <summary>
/// The names of the activities the sandbox orchestrations schedule. They are stored in history: never rename one.
/// Every activity is idempotent: it may run again after a crash, and must then succeed without doing twice.
/// </summary>
public static class SandboxActivities
{
    /// <summary>Creates (or adopts) the network namespace and scans its endpoints. Input <see cref="NetworkRequest"/>, output <see cref="NetworkState"/>.</summary>
    public const string CreateNetwork = "sandbox.createNetwork";

    /// <summary>Detaches endpoints and removes a namespace this host created. Input <see cref="NetworkRequest"/>, output bool.</summary>
    public const string RemoveNetwork = "sandbox.removeNetwork";

    /// <summary>Starts the VM and the guest side of the sandbox. Input <see cref="VmRequest"/>, output <see cref="VmState"/>.</summary>
    public const string StartVm = "sandbox.startVM";

    /// <summary>Stops the guest sandbox and the VM. Input <see cref="VmRequest"/>, output bool.</summary>
    public const string StopVm = "sandbox.stopVM";

    /// <summary>Pauses the VM. Input <see cref="VmRequest"/>, output bool.</summary>
    public const string PauseVm = "sandbox.pauseVM";

    /// <summary>Resumes the VM. Input <see cref="VmRequest"/>, output bool.</summary>
    public const string ResumeVm = "sandbox.resumeVM";

    /// <summary>Asks the guest about itself. Input <see cref="VmRequest"/>, output <see cref="GuestDetails"/>.</summary>
    public const string GetGuestDetails = "sandbox.getGuestDetails";

    /// <summary>Creates containers in the guest. Input <see cref="ContainersRequest"/>, output a list of <see cref="ContainerRecord"/>.</summary>
    public const string CreateContainers = "sandbox.createContainers";

    /// <summary>Stops and removes containers in the guest (compensation). Input <see cref="ContainersRequest"/>, output bool.</summary>
    public const string DeleteContainers = "sandbox.deleteContainers";

    /// <summary>Writes the sandbox's persist.json in Kata's run-directory layout. Input <see cref="SandboxRecord"/>, output bool.</summary>
    public const string StoreSandbox = "sandbox.storeSandbox";

    /// <summary>Removes the sandbox's run directory. Input <see cref="VmRequest"/>, output bool.</summary>
    public const string RemoveSandboxStore = "sandbox.removeSandboxStore";

    /// <summary>Starts a container's first process. Input <see cref="ContainerRequest"/>, output bool.</summary>
    public const string StartContainer = "container.start";

    /// <summary>Stops a container (kills and waits for its processes, removes it in the guest). Input <see cref="ContainerRequest"/>, output bool.</summary>
    public const string StopContainer = "container.stop";

    /// <summary>Sends a signal to a container's processes. Input <see cref="ContainerRequest"/>, output bool.</summary>
    public const string KillContainer = "container.kill";

    /// <summary>Runs a new process in a container. Input <see cref="ContainerRequest"/>, output <see cref="ProcessInfo"/>.</summary>
    public const string ExecProcess = "container.exec";

    /// <summary>Changes a container's resources. Input <see cref="ContainerRequest"/>, output bool.</summary>
    public const string UpdateContainer = "container.update";

    /// <summary>Freezes a container. Input <see cref="ContainerRequest"/>, output bool.</summary>
    public const string PauseContainer = "container.pause";

    /// <summary>Thaws a container. Input <see cref="ContainerRequest"/>, output bool.</summary>
    public const string ResumeContainer = "container.resume";

    /// <summary>Adds a network interface to a running sandbox. Input <see cref="InterfaceRequest"/>, output <see cref="InterfaceRecord"/>.</summary>
    public const string AddInterface = "network.addInterface";

    /// <summary>Removes a network interface. Input <see cref="InterfaceRequest"/>, output bool.</summary>
    public const string RemoveInterface = "network.removeInterface";

    /// <summary>Replaces the guest's routes. Input <see cref="RoutesRequest"/>, output the applied routes.</summary>
    public const string UpdateRoutes = "network.updateRoutes";

    /// <summary>Attaches a device to the sandbox. Input <see cref="DeviceRequest"/>, output <see cref="DeviceRecord"/>.</summary>
    public const string AddDevice = "device.add";
}

/// <summary>Which drivers serve a sandbox: from its configuration.</summary>
/// <param name="SandboxId">The sandbox.</param>
/// <param name="HypervisorType">qemu or mock.</param>
/// <param name="AgentType">kata or noop.</param>
/// <param name="InterworkingModel">tcfilter, macvtap or none.</param>
public sealed record SandboxTarget(string SandboxId, string HypervisorType, string AgentType, string InterworkingModel)
{
    /// <summary>The target of a sandbox record.</summary>
    public static SandboxTarget Of(SandboxRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        // A sandbox that runs in the host's network namespace needs no interworking, whatever the model says.
        var network = record.Config.NetworkConfig;
        return new(record.Id, record.Config.HypervisorType, record.Config.AgentType, network.DisableNewNetNs ? "none" : network.InterworkingModel);
    }
}

/// <summary>Input of the network activities.</summary>
/// <param name="Target">The sandbox.</param>
/// <param name="Config">Its network configuration.</param>
/// <param name="State">The network as created (for removal); null to create.</param>
/// <param name="Force">Ignore driver errors (they are still recorded).</param>
public sealed record NetworkRequest(SandboxTarget Target, NetworkConfig Config, NetworkState? State = null, bool Force = false);

/// <summary>Input of the VM activities.</summary>
/// <param name="Target">The sandbox.</param>
/// <param name="Config">Its configuration.</param>
/// <param name="Network">Its network, for starting.</param>
/// <param name="Vm">The VM, for stop/pause/resume.</param>
/// <param name="Force">Ignore driver errors (they are still recorded).</param>
public sealed record VmRequest(SandboxTarget Target, SandboxConfig Config, NetworkState? Network = null, VmState? Vm = null, bool Force = false);

/// <summary>Input of the activities over several containers.</summary>
/// <param name="Target">The sandbox.</param>
/// <param name="Containers">The containers.</param>
/// <param name="Force">Ignore driver errors (they are still recorded).</param>
public sealed record ContainersRequest(SandboxTarget Target, IReadOnlyList<ContainerConfig> Containers, bool Force = false);

/// <summary>Input of the activities on one container.</summary>
/// <param name="Target">The sandbox.</param>
/// <param name="ContainerId">The container.</param>
/// <param name="Force">Ignore driver errors (they are still recorded).</param>
public sealed record ContainerRequest(SandboxTarget Target, string ContainerId, bool Force = false)
{
    /// <summary>The signal, for kill.</summary>
    public int Signal { get; init; }

    /// <summary>Signal every process of the container, for kill.</summary>
    public bool All { get; init; }

    /// <summary>The command, for exec.</summary>
    public Cmd? Cmd { get; init; }

    /// <summary>The merged resources, for update.</summary>
    public ContainerResources? Resources { get; init; }
}

/// <summary>A process started in a container.</summary>
/// <param name="Token">The agent's token for it.</param>
/// <param name="Pid">Its process id in the guest (0 with the noop agent).</param>
/// <param name="StartTime">When it started.</param>
public sealed record ProcessInfo(string Token, int Pid, DateTime StartTime)
{
    /// <summary>The exit status (128 + signal for a signal), when the process was waited for (<c>Cmd.Wait</c>).</summary>
    public int? ExitStatus { get; init; }

    /// <summary>The start of its stdout (UTF-8, at most <c>Cmd.MaxOutputBytes</c>), when it was waited for.</summary>
    public string? Stdout { get; init; }

    /// <summary>The start of its stderr, likewise.</summary>
    public string? Stderr { get; init; }
}

/// <summary>Input of the interface activities.</summary>
/// <param name="Target">The sandbox.</param>
/// <param name="Network">The sandbox's network.</param>
/// <param name="Interface">The interface to add or remove.</param>
/// <param name="Vm">The sandbox's VM, which the hypervisor hot-plugs the interface's NIC into (null in histories recorded before it was sent).</param>
public sealed record InterfaceRequest(SandboxTarget Target, NetworkState? Network, InterfaceRecord Interface, VmState? Vm = null);

/// <summary>Input of the routes activity.</summary>
/// <param name="Target">The sandbox.</param>
/// <param name="Routes">The routes the guest should have.</param>
public sealed record RoutesRequest(SandboxTarget Target, IReadOnlyList<RouteRecord> Routes);

/// <summary>Input of the device activity.</summary>
/// <param name="Target">The sandbox.</param>
/// <param name="Device">The device.</param>
/// <param name="BlockIndex">The block index to use for a block device.</param>
public sealed record DeviceRequest(SandboxTarget Target, DeviceRecord Device, int BlockIndex);
