namespace KataWorkflows.Activities.Drivers;

/// <summary>The roles a sandbox driver plays; a sandbox's configuration names one driver per role.</summary>
public enum DriverKind
{
    /// <summary>Runs the VM (<c>SandboxConfig.HypervisorType</c>: qemu, mock).</summary>
    Hypervisor,

    /// <summary>Talks to the guest (<c>SandboxConfig.AgentType</c>: kata, noop).</summary>
    Agent,

    /// <summary>Connects the VM to its network (<c>NetworkConfig.InterworkingModel</c>: tcfilter, macvtap, none).</summary>
    Network,
}
