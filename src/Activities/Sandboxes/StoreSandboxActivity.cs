using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary><see cref="SandboxActivities.StoreSandbox"/>: rewrites the sandbox's run-directory record from the sandbox record.</summary>
public sealed class StoreSandboxActivity(SandboxActivityServices services) : SandboxActivity<SandboxRecord, bool>(services)
{
    /// <inheritdoc />
    public override async Task<bool> RunAsync(TaskActivityContext context, SandboxRecord input)
    {
        ArgumentNullException.ThrowIfNull(input);
        await CallAsync(context, input.Id, "store.write", force: false, ct => Store.WriteAsync(input, ct)).ConfigureAwait(false);
        return true;
    }
}
