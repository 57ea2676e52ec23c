using KataWorkflows.Engine.Worker;
using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary>
/// <see cref="SandboxActivities.StopVm"/>: asks the agent to destroy the guest sandbox (a failure there is only a
/// warning, as in Kata), then stops the VM (its failure skipped with force).
/// </summary>
public sealed class StopVmActivity(SandboxActivityServices services) : SandboxActivity<VmRequest, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, VmRequest input)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var hypervisor = Drivers.GetHypervisor(input.Target.HypervisorType);
        var agent = Drivers.GetAgent(input.Target.AgentType);
        try
        {
            await CallAsync(context, id, async ct =>
            {
                await agent.DestroySandboxAsync(id, ct).ConfigureAwait(false);
                return true;
            }).ConfigureAwait(false);
        }
        catch (Exception ex) when (!ActivityExecution.CancellationToken.IsCancellationRequested)
        {
            Log.AgentDidNotStop(Logger, context.Name, id, ex);
        }

        await CallAsync(context, id, "hypervisor.stopVM", input.Force, ct => hypervisor.StopVmAsync(id, input.Vm, ct)).ConfigureAwait(false);
        return true;
    }
}
