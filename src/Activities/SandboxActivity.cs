using KataWorkflows.Activities.Agents;
using KataWorkflows.Activities.Drivers;
using KataWorkflows.Activities.Faults;
using KataWorkflows.Activities.Store;
using KataWorkflows.Engine.Worker;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.Activities;

/// <summary>
/// Base of the sandbox activities: thin steps over the drivers a sandbox's configuration names. Every driver call
/// goes through <see cref="CallAsync"/>, which injects driver errors when a rule says so and, for a forced request,
/// logs a failed call and goes on (Kata's force semantics: each step's error is skipped on its own).
/// </summary>
/// <typeparam name="TInput">The input type.</typeparam>
/// <typeparam name="TOutput">The output type.</typeparam>
public abstract class SandboxActivity<TInput, TOutput> : TaskActivity<TInput, TOutput>
{
    private const int SigKill = 9;

    private readonly SandboxActivityServices _services;

    /// <summary>Creates the activity.</summary>
    protected SandboxActivity(SandboxActivityServices services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _services = services;
    }

    /// <summary>Picks each sandbox's drivers.</summary>
    protected IDriverResolver Drivers => _services.Drivers;

    /// <summary>The host's run-directory store.</summary>
    protected ISandboxStore Store => _services.Store;

    /// <summary>The logger.</summary>
    protected ILogger Logger => _services.Logger;

    /// <summary>
    /// Runs one driver call under the step's cancellation token. With <paramref name="force"/>, a failure is logged
    /// and skipped; cancellation by the token is never skipped, so a shutdown still interrupts the step.
    /// </summary>
    protected async Task CallAsync(TaskActivityContext context, string sandboxId, string operation, bool force, Func<CancellationToken, Task> call)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(call);
        var cancellationToken = ActivityExecution.CancellationToken;
        try
        {
            await CallAsync(context, sandboxId, async ct =>
            {
                await call(ct).ConfigureAwait(false);
                return true;
            }).ConfigureAwait(false);
        }
        catch (Exception ex) when (force && !(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            Log.ForcedFailureSkipped(Logger, context.Name, sandboxId, operation, ex);
        }
    }

    /// <summary>Runs one driver call that produces a result under the step's cancellation token; failures propagate.</summary>
    protected async Task<T> CallAsync<T>(TaskActivityContext context, string sandboxId, Func<CancellationToken, Task<T>> call)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(call);
        _services.Faults.InjectDriverError(context.Name, sandboxId, FaultPoint.Before);
        var result = await call(ActivityExecution.CancellationToken).ConfigureAwait(false);
        _services.Faults.InjectDriverError(context.Name, sandboxId, FaultPoint.After);
        return result;
    }

    /// <summary>
    /// Kata's container stop: SIGKILL to all its processes (a failure there is ignored, as in Kata: the container may
    /// never have started, or be gone), then the agent's remove, which waits for them (its failure skipped with force).
    /// </summary>
    protected async Task KillAndRemoveContainerAsync(TaskActivityContext context, IAgent agent, string sandboxId, string containerId, bool force)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(agent);
        try
        {
            await agent.SignalProcessAsync(sandboxId, containerId, string.Empty, SigKill, all: true, ActivityExecution.CancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!ActivityExecution.CancellationToken.IsCancellationRequested)
        {
            Log.KillIgnored(Logger, context.Name, sandboxId, containerId, ex);
        }

        await CallAsync(context, sandboxId, "agent.removeContainer", force, ct => agent.RemoveContainerAsync(sandboxId, containerId, ct)).ConfigureAwait(false);
    }

    /// <summary>Best-effort undo of what a failing step already did; its own failure is logged, never thrown.</summary>
    protected async Task UndoAsync(TaskActivityContext context, string sandboxId, string operation, Exception cause, Func<CancellationToken, Task> undo)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(undo);
        Log.UndoingPartialStep(Logger, context.Name, sandboxId, operation, cause);
        try
        {
            // The step failed, possibly because it was cancelled; the undo must run regardless.
            await undo(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.UndoFailed(Logger, context.Name, sandboxId, operation, ex);
        }
    }
}
