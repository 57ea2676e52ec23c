using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.RemoveInterface"/>: removes the interface's endpoint; one already gone is not an error.</summary>
public sealed class RemoveInterfaceActivity(SandboxActivityServices services) : SandboxActivity<InterfaceRequest, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, InterfaceRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var network = Drivers.GetNetwork(input.Target.InterworkingModel);
        await CallAsync(context, id, "network.removeInterface", force: false, ct => network.RemoveInterfaceAsync(id, input.Network, input.Interface, ct)).ConfigureAwait(false);
        return true;
    }
}
