using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.RemoveSandboxStore"/>: removes the sandbox's run directory; one already gone is not an error.</summary>
public sealed class RemoveSandboxStoreActivity(SandboxActivityServices services) : SandboxActivity<VmRequest, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, VmRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        await CallAsync(context, id, "store.remove", input.Force, ct => Store.RemoveAsync(id, ct)).ConfigureAwait(false);
        return true;
    }
}
