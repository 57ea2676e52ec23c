using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Hypervisors;

/// <summary>
/// Runs sandbox VMs (Kata's <c>hypervisor</c> interface, the calls the sandbox activities need). Activities run at
/// least once, so every member must be idempotent: starting a running VM returns it, stopping a VM that is gone
/// succeeds.
/// </summary>
public interface IHypervisor
{
    /// <summary>
    /// Builds and boots the VM (Kata's <c>createSandbox</c> then <c>startSandbox</c>): validates the hypervisor
    /// configuration, starts the VM in the sandbox's network. A VM already running for the sandbox is returned as it is.
    /// </summary>
    /// <exception cref="InvalidSandboxArgumentException">The hypervisor configuration is invalid.</exception>
    Task<VmState> StartVmAsync(string sandboxId, SandboxConfig config, NetworkState? network, CancellationToken cancellationToken);

    /// <summary>Stops the VM and removes its run directory. A VM that is not running is not an error.</summary>
    Task StopVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken);

    /// <summary>Freezes the VM's vCPUs (QMP <c>stop</c>).</summary>
    Task PauseVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken);

    /// <summary>Thaws the VM's vCPUs (QMP <c>cont</c>).</summary>
    Task ResumeVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken);

    /// <summary>Checks that the VM is healthy (QMP <c>query-status</c>); throws when it is not.</summary>
    Task CheckAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken);

    /// <summary>
    /// Attaches a device to the sandbox and returns it as attached. Attaching a device that is already attached
    /// returns it again.
    /// </summary>
    Task<DeviceRecord> AddDeviceAsync(string sandboxId, DeviceRecord device, int blockIndex, CancellationToken cancellationToken);

    /// <summary>
    /// Hot-plugs the VM's NIC for a network endpoint (Kata's <c>hotplugAddDevice</c> of a network endpoint: QMP
    /// <c>netdev_add</c> on the endpoint's tap, then <c>device_add</c> with its MAC) and returns the interface as
    /// plugged (with the guest PCI address when the driver knows it). An interface that is already plugged is
    /// returned again.
    /// </summary>
    /// <exception cref="InvalidSandboxArgumentException">The interface's tap or MAC cannot be used.</exception>
    Task<InterfaceRecord> AddInterfaceAsync(string sandboxId, VmState? vm, InterfaceRecord iface, CancellationToken cancellationToken);

    /// <summary>
    /// Unplugs the VM's NIC of an interface (QMP <c>device_del</c>, then <c>netdev_del</c>). An interface that is
    /// not plugged, or a VM that is gone, is not an error.
    /// </summary>
    Task RemoveInterfaceAsync(string sandboxId, VmState? vm, InterfaceRecord iface, CancellationToken cancellationToken);
}
