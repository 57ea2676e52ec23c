using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.ResumeVm"/>: thaws the VM.</summary>
public sealed class ResumeVmActivity(SandboxActivityServices services) : SandboxActivity<VmRequest, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, VmRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var hypervisor = Drivers.GetHypervisor(input.Target.HypervisorType);
        await CallAsync(context, id, "hypervisor.resumeVM", input.Force, ct => hypervisor.ResumeVmAsync(id, input.Vm, ct)).ConfigureAwait(false);
        return true;
    }
}
