using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary>
/// <see cref="SandboxActivities.RemoveNetwork"/>: removes the network as created. Without a state (the undo of a
/// createNetwork that timed out, which may still have made something) the driver is given an empty one and removes
/// what its own records say it made for the sandbox; for a driver that keeps none that is nothing.
/// </summary>
public sealed class RemoveNetworkActivity(SandboxActivityServices services) : SandboxActivity<NetworkRequest, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, NetworkRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var state = input.State ?? new NetworkState();
        var id = input.Target.SandboxId;
        var network = Drivers.GetNetwork(input.Target.InterworkingModel);
        await CallAsync(context, id, "network.remove", input.Force, ct => network.RemoveAsync(id, state, ct)).ConfigureAwait(false);
        return true;
    }
}
