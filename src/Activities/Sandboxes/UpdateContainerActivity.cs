using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.UpdateContainer"/>: applies the merged resource limits to a container.</summary>
public sealed class UpdateContainerActivity(SandboxActivityServices services) : SandboxActivity<ContainerRequest, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, ContainerRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var resources = input.Resources ?? throw new InvalidSandboxArgumentException("resources", "resources are required to update a container");
        var id = input.Target.SandboxId;
        var agent = Drivers.GetAgent(input.Target.AgentType);
        await CallAsync(context, id, "agent.updateContainer", input.Force, ct => agent.UpdateContainerAsync(id, input.ContainerId, resources, ct)).ConfigureAwait(false);
        return true;
    }
}
