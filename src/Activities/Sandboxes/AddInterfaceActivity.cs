using KataWorkflows.Engine.Worker;
using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary>
/// <see cref="SandboxActivities.AddInterface"/>, in Kata's order: creates the endpoint with the network driver,
/// hot-plugs its NIC into the VM with the hypervisor, then configures it in the guest; returns the interface as the
/// guest has it. When any of it fails, the NIC is unplugged and the endpoint removed again.
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
        var hypervisor = Drivers.GetHypervisor(input.Target.HypervisorType);
        var agent = Drivers.GetAgent(input.Target.AgentType);
        InterfaceRecord? endpoint = null;
        InterfaceRecord? plugged = null;
        try
        {
            endpoint = await CallAsync(context, id, ct => network.AddInterfaceAsync(id, input.Network, input.Interface, ct)).ConfigureAwait(false);
            plugged = await CallAsync(context, id, ct => hypervisor.AddInterfaceAsync(id, input.Vm, endpoint, ct)).ConfigureAwait(false);
            return await CallAsync(context, id, ct => UpdateWhenProbedAsync(agent, id, plugged, ct)).ConfigureAwait(false);
        }
        catch (Exception ex) when (!ActivityExecution.CancellationToken.IsCancellationRequested)
        {
            // Unplugging a NIC or removing an endpoint that is not there is a no-op, so the undo is safe whatever got
            // done; a hot-plug that failed half-way is unplugged by the endpoint's MAC.
            if (endpoint is not null)
            {
                var unplug = plugged ?? endpoint;
                await UndoAsync(context, id, "hypervisor.removeInterface", ex, ct => hypervisor.RemoveInterfaceAsync(id, input.Vm, unplug, ct)).ConfigureAwait(false);
            }

            var undo = endpoint ?? input.Interface;
            await UndoAsync(context, id, "network.removeInterface", ex, ct => network.RemoveInterfaceAsync(id, input.Network, undo, ct)).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>How long the guest may take to probe a hot-plugged NIC (PCIe hot-plug under TCG takes seconds).</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The agent finds the NIC by its MAC, and the guest's kernel shows the link only once it probed the hot-plugged
    /// device: until then the agent answers NotFound, and the update is sent again, as Kata's agent waits for the
    /// device's uevent before it configures it.
    /// </summary>
    private static async Task<InterfaceRecord> UpdateWhenProbedAsync(Agents.IAgent agent, string sandboxId, InterfaceRecord iface, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + ProbeTimeout;
        var pause = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                return await agent.UpdateInterfaceAsync(sandboxId, iface, cancellationToken).ConfigureAwait(false);
            }
            catch (Agents.Kata.KataAgentException ex) when (ex.StatusCode == Grpc.Core.StatusCode.NotFound && DateTime.UtcNow < deadline)
            {
                await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
                pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 1000));
            }
        }
    }
}
