using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.PauseVm"/>: freezes the VM.</summary>
public sealed class PauseVmActivity(SandboxActivityServices services) : SandboxActivity<VmRequest, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, VmRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var hypervisor = Drivers.GetHypervisor(input.Target.HypervisorType);
        await CallAsync(context, id, "hypervisor.pauseVM", input.Force, ct => hypervisor.PauseVmAsync(id, input.Vm, ct)).ConfigureAwait(false);
        return true;
    }
}
