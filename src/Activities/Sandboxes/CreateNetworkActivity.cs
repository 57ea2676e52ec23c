using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.CreateNetwork"/>: creates (or adopts) the sandbox's network with its network driver.</summary>
public sealed class CreateNetworkActivity(SandboxActivityServices services) : SandboxActivity<NetworkRequest, NetworkState>(services)
{
    /// <inheritdoc />
    public override Task<NetworkState> RunAsync(TaskActivityContext context, NetworkRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var network = Drivers.GetNetwork(input.Target.InterworkingModel);
        return CallAsync(context, id, ct => network.CreateAsync(id, input.Config, ct));
    }
}
