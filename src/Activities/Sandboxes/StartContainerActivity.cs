using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.StartContainer"/>: starts a container's first process.</summary>
public sealed class StartContainerActivity(SandboxActivityServices services) : SandboxActivity<ContainerRequest, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, ContainerRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var agent = Drivers.GetAgent(input.Target.AgentType);
        await CallAsync(context, id, "agent.startContainer", input.Force, ct => agent.StartContainerAsync(id, input.ContainerId, ct)).ConfigureAwait(false);
        return true;
    }
}
