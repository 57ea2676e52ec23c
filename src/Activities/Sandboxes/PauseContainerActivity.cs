using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.PauseContainer"/>: freezes a container.</summary>
public sealed class PauseContainerActivity(SandboxActivityServices services) : SandboxActivity<ContainerRequest, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, ContainerRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var agent = Drivers.GetAgent(input.Target.AgentType);
        await CallAsync(context, id, "agent.pauseContainer", input.Force, ct => agent.PauseContainerAsync(id, input.ContainerId, ct)).ConfigureAwait(false);
        return true;
    }
}
