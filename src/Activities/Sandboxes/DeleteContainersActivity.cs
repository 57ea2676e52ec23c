using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary>
/// <see cref="SandboxActivities.DeleteContainers"/>: kills and removes each container in the guest (the undo of
/// <see cref="SandboxActivities.CreateContainers"/>). A container that is already gone is not an error.
/// </summary>
public sealed class DeleteContainersActivity(SandboxActivityServices services) : SandboxActivity<ContainersRequest, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, ContainersRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var agent = Drivers.GetAgent(input.Target.AgentType);
        foreach (var container in input.Containers)
        {
            await KillAndRemoveContainerAsync(context, agent, id, container.Id, input.Force).ConfigureAwait(false);
        }

        return true;
    }
}
