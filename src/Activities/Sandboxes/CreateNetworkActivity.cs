using KataWorkflows.Engine.Worker;
using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary>
/// <see cref="SandboxActivities.CreateNetwork"/>: creates (or adopts) the sandbox's network with its network driver.
/// The orchestration undoes this step only once it succeeded, so a failure after the driver made the network (a driver
/// error reported once the call returned) removes it here before the failure is reported, as startVM does with its VM.
/// </summary>
public sealed class CreateNetworkActivity(SandboxActivityServices services) : SandboxActivity<NetworkRequest, NetworkState>(services)
{
    /// <inheritdoc />
    public override async Task<NetworkState> RunAsync(TaskActivityContext context, NetworkRequest input)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var network = Drivers.GetNetwork(input.Target.InterworkingModel);
        NetworkState? made = null;
        try
        {
            return await CallAsync(context, id, async ct => made = await network.CreateAsync(id, input.Config, ct).ConfigureAwait(false)).ConfigureAwait(false);
        }
        catch (Exception ex) when (made is { } state && !ActivityExecution.CancellationToken.IsCancellationRequested)
        {
            await UndoAsync(context, id, "network.remove", ex, ct => network.RemoveAsync(id, state, ct)).ConfigureAwait(false);
            throw;
        }
    }
}
