using KataWorkflows.Engine.Worker;
using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary>
/// <see cref="SandboxActivities.AddInterface"/>: creates the endpoint with the network driver, then configures it in
/// the guest; returns the interface as the guest has it. When any of it fails, the endpoint is removed again.
/// </summary>
public sealed class AddInterfaceActivity(SandboxActivityServices services) : SandboxActivity<InterfaceRequest, InterfaceRecord>(services)
{
    /// <inheritdoc />
    public override async Task<InterfaceRecord> RunAsync(TaskActivityContext context, InterfaceRequest input)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var network = Drivers.GetNetwork(input.Target.InterworkingModel);
        var agent = Drivers.GetAgent(input.Target.AgentType);
        InterfaceRecord? endpoint = null;
        try
        {
            endpoint = await CallAsync(context, id, ct => network.AddInterfaceAsync(id, input.Network, input.Interface, ct)).ConfigureAwait(false);
            return await CallAsync(context, id, ct => agent.UpdateInterfaceAsync(id, endpoint, ct)).ConfigureAwait(false);
        }
        catch (Exception ex) when (!ActivityExecution.CancellationToken.IsCancellationRequested)
        {
            // Removing an endpoint that is not there is a no-op, so the undo is safe whatever got done.
            var undo = endpoint ?? input.Interface;
            await UndoAsync(context, id, "network.removeInterface", ex, ct => network.RemoveInterfaceAsync(id, input.Network, undo, ct)).ConfigureAwait(false);
            throw;
        }
    }
}
