using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.ExecProcess"/>: runs a new process in a container.</summary>
public sealed class ExecProcessActivity(SandboxActivityServices services) : SandboxActivity<ContainerRequest, ProcessInfo>(services)
{
    /// <inheritdoc />
    public override Task<ProcessInfo> RunAsync(TaskActivityContext context, ContainerRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var cmd = input.Cmd ?? throw new InvalidSandboxArgumentException("cmd", "cmd is required to run a process in a container");
        var id = input.Target.SandboxId;
        var agent = Drivers.GetAgent(input.Target.AgentType);
        return CallAsync(context, id, ct => agent.ExecProcessAsync(id, input.ContainerId, cmd, ct));
    }
}
