using KataWorkflows.Activities.Hypervisors;
using KataWorkflows.Activities.Hypervisors.Mock;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Orchestrations.Tests.Harness;

/// <summary>The mock hypervisor, registered in its place, noting every call in <see cref="DriverCalls"/>.</summary>
public sealed class RecordingHypervisor(MockHypervisor inner, DriverCalls calls) : IHypervisor
{
    private TaskCompletionSource? _holdNextStart;

    /// <summary>
    /// Holds the next startVM call before it starts anything, until the activity making it is cancelled (its worker
    /// stops). The task completes once that call is being held. It lets a test stop a host at a moment it chooses
    /// inside a step, instead of hoping the step is there when the host stops.
    /// </summary>
    public Task HoldNextStart()
    {
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _holdNextStart, held);
        return held.Task;
    }

    /// <inheritdoc />
    public async Task<VmState> StartVmAsync(string sandboxId, SandboxConfig config, NetworkState? network, CancellationToken cancellationToken)
    {
        calls.Add($"hypervisor.startVM {sandboxId}");
        if (Interlocked.Exchange(ref _holdNextStart, null) is { } held)
        {
            held.SetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        return await inner.StartVmAsync(sandboxId, config, network, cancellationToken);
    }

    /// <inheritdoc />
    public Task StopVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken)
    {
        calls.Add($"hypervisor.stopVM {sandboxId}");
        return inner.StopVmAsync(sandboxId, vm, cancellationToken);
    }

    /// <inheritdoc />
    public Task PauseVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken)
    {
        calls.Add($"hypervisor.pauseVM {sandboxId}");
        return inner.PauseVmAsync(sandboxId, vm, cancellationToken);
    }

    /// <inheritdoc />
    public Task ResumeVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken)
    {
        calls.Add($"hypervisor.resumeVM {sandboxId}");
        return inner.ResumeVmAsync(sandboxId, vm, cancellationToken);
    }

    /// <inheritdoc />
    public Task CheckAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken) => inner.CheckAsync(sandboxId, vm, cancellationToken);

    /// <inheritdoc />
    public Task<DeviceRecord> AddDeviceAsync(string sandboxId, DeviceRecord device, int blockIndex, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(device);
        calls.Add($"hypervisor.addDevice {sandboxId} {device.Id} index={blockIndex}");
        return inner.AddDeviceAsync(sandboxId, device, blockIndex, cancellationToken);
    }

    /// <inheritdoc />
    public Task<InterfaceRecord> AddInterfaceAsync(string sandboxId, VmState? vm, InterfaceRecord iface, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(iface);
        calls.Add($"hypervisor.addInterface {sandboxId} {iface.HwAddr}");
        return inner.AddInterfaceAsync(sandboxId, vm, iface, cancellationToken);
    }

    /// <inheritdoc />
    public Task RemoveInterfaceAsync(string sandboxId, VmState? vm, InterfaceRecord iface, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(iface);
        calls.Add($"hypervisor.removeInterface {sandboxId} {iface.HwAddr}");
        return inner.RemoveInterfaceAsync(sandboxId, vm, iface, cancellationToken);
    }
}
