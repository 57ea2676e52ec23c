using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.KillContainer"/>: sends the signal to the container's first process, or to all its processes.</summary>
public sealed class KillContainerActivity(SandboxActivityServices services) : SandboxActivity<ContainerRequest, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, ContainerRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var agent = Drivers.GetAgent(input.Target.AgentType);
        await CallAsync(context, id, "agent.signalProcess", input.Force,
            ct => agent.SignalProcessAsync(id, input.ContainerId, string.Empty, input.Signal, input.All, ct)).ConfigureAwait(false);
        return true;
    }
}
