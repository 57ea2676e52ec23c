using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.RemoveNetwork"/>: removes the network as created; nothing to remove without a state.</summary>
public sealed class RemoveNetworkActivity(SandboxActivityServices services) : SandboxActivity<NetworkRequest, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, NetworkRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.State is not { } state)
        {
            return true;
        }

        var id = input.Target.SandboxId;
        var network = Drivers.GetNetwork(input.Target.InterworkingModel);
        await CallAsync(context, id, "network.remove", input.Force, ct => network.RemoveAsync(id, state, ct)).ConfigureAwait(false);
        return true;
    }
}
