using KataWorkflows.Engine.Worker;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using Microsoft.DurableTask;

namespace KataWorkflows.Activities.Faults;

/// <summary>Wraps an activity so the fault rules for its name strike before and after it: the one place activity faults are applied.</summary>
internal sealed class FaultInjectingActivity(ITaskActivity inner, FaultInjector faults) : ITaskActivity
{
    public Type InputType => inner.InputType;

    public Type OutputType => inner.OutputType;

    public async Task<object?> RunAsync(TaskActivityContext context, object? input)
    {
        var sandboxId = SandboxIdOf(input);
        await faults.InjectAsync(context.Name.Name, sandboxId, FaultPoint.Before, ActivityExecution.CancellationToken).ConfigureAwait(false);
        var output = await inner.RunAsync(context, input).ConfigureAwait(false);
        await faults.InjectAsync(context.Name.Name, sandboxId, FaultPoint.After, ActivityExecution.CancellationToken).ConfigureAwait(false);
        return output;
    }

    internal static string? SandboxIdOf(object? input) => input switch
    {
        VmRequest r => r.Target.SandboxId,
        NetworkRequest r => r.Target.SandboxId,
        ContainersRequest r => r.Target.SandboxId,
        ContainerRequest r => r.Target.SandboxId,
        InterfaceRequest r => r.Target.SandboxId,
        RoutesRequest r => r.Target.SandboxId,
        DeviceRequest r => r.Target.SandboxId,
        SandboxRecord r => r.Id,
        _ => null,
    };
}
