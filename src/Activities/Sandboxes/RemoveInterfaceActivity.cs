using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary>
/// <see cref="SandboxActivities.RemoveInterface"/>: unplugs the interface's NIC from the VM, then removes its endpoint
/// (Kata's <c>HotDetach</c>); a NIC or endpoint already gone is not an error.
/// </summary>
public sealed class RemoveInterfaceActivity(SandboxActivityServices services) : SandboxActivity<InterfaceRequest, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, InterfaceRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var network = Drivers.GetNetwork(input.Target.InterworkingModel);
        var hypervisor = Drivers.GetHypervisor(input.Target.HypervisorType);
        await CallAsync(context, id, "hypervisor.removeInterface", force: false, ct => hypervisor.RemoveInterfaceAsync(id, input.Vm, input.Interface, ct)).ConfigureAwait(false);
        await CallAsync(context, id, "network.removeInterface", force: false, ct => network.RemoveInterfaceAsync(id, input.Network, input.Interface, ct)).ConfigureAwait(false);
        return true;
    }
}
