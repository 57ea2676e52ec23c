using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.GetGuestDetails"/>: asks the agent about the guest.</summary>
public sealed class GetGuestDetailsActivity(SandboxActivityServices services) : SandboxActivity<VmRequest, GuestDetails>(services)
{
    /// <inheritdoc />
    public override Task<GuestDetails> RunAsync(TaskActivityContext context, VmRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var agent = Drivers.GetAgent(input.Target.AgentType);
        return CallAsync(context, id, ct => agent.GetGuestDetailsAsync(id, ct));
    }
}
