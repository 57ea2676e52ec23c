using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.UpdateRoutes"/>: replaces the guest's routes and returns them as applied.</summary>
public sealed class UpdateRoutesActivity(SandboxActivityServices services) : SandboxActivity<RoutesRequest, IReadOnlyList<RouteRecord>>(services)
{
    /// <inheritdoc />
    public override Task<IReadOnlyList<RouteRecord>> RunAsync(TaskActivityContext context, RoutesRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var agent = Drivers.GetAgent(input.Target.AgentType);
        return CallAsync(context, id, ct => agent.UpdateRoutesAsync(id, input.Routes ?? [], ct));
    }
}
