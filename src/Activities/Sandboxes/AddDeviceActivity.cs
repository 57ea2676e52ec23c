using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.AddDevice"/>: attaches a device to the sandbox with its hypervisor.</summary>
public sealed class AddDeviceActivity(SandboxActivityServices services) : SandboxActivity<DeviceRequest, DeviceRecord>(services)
{
    /// <inheritdoc />
    public override Task<DeviceRecord> RunAsync(TaskActivityContext context, DeviceRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var hypervisor = Drivers.GetHypervisor(input.Target.HypervisorType);
        return CallAsync(context, id, ct => hypervisor.AddDeviceAsync(id, input.Device, input.BlockIndex, ct));
    }
}
