using System.Text;
using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary>
/// <see cref="SandboxActivities.ExecProcess"/>: runs a new process in a container. With <see cref="Cmd.Wait"/> it also
/// reads the process's stdout and stderr to their end (both at once, each kept up to <see cref="Cmd.MaxOutputBytes"/>)
/// and then waits for its exit status, in that order: the agent forgets an exec once it was waited for.
/// </summary>
public sealed class ExecProcessActivity(SandboxActivityServices services) : SandboxActivity<ContainerRequest, ProcessInfo>(services)
{
    /// <inheritdoc />
    public override async Task<ProcessInfo> RunAsync(TaskActivityContext context, ContainerRequest input)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(input);
        var cmd = input.Cmd ?? throw new InvalidSandboxArgumentException("cmd", "cmd is required to run a process in a container");
        var id = input.Target.SandboxId;
        var agent = Drivers.GetAgent(input.Target.AgentType);
        var process = await CallAsync(context, id, ct => agent.ExecProcessAsync(id, input.ContainerId, cmd, ct)).ConfigureAwait(false);
        if (!cmd.Wait)
        {
            return process;
        }

        return await CallAsync(context, id, async ct =>
        {
            var stdout = agent.ReadOutputAsync(id, input.ContainerId, process.Token, stderr: false, Cmd.MaxOutputBytes, ct);
            var stderr = agent.ReadOutputAsync(id, input.ContainerId, process.Token, stderr: true, Cmd.MaxOutputBytes, ct);
            await Task.WhenAll(stdout, stderr).ConfigureAwait(false);
            var status = await agent.WaitProcessAsync(id, input.ContainerId, process.Token, ct).ConfigureAwait(false);
            return process with { ExitStatus = status, Stdout = Encoding.UTF8.GetString(await stdout.ConfigureAwait(false)), Stderr = Encoding.UTF8.GetString(await stderr.ConfigureAwait(false)) };
        }).ConfigureAwait(false);
    }
}
