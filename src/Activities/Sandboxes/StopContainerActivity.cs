using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.StopContainer"/>: kills the container's processes and removes it in the guest (Kata's <c>stop</c>).</summary>
public sealed class StopContainerActivity(SandboxActivityServices services) : SandboxActivity<ContainerRequest, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, ContainerRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var agent = Drivers.GetAgent(input.Target.AgentType);
        await KillAndRemoveContainerAsync(context, agent, input.Target.SandboxId, input.ContainerId, input.Force).ConfigureAwait(false);
        return true;
    }
}
