using KataWorkflows.Orchestrations.Model;
using Microsoft.DurableTask;

namespace KataWorkflows.Orchestrations.Sandboxes;

/// <summary>
/// The undo list of a multi-step call. Each step that succeeded registers how to undo it; on failure they run
/// in reverse, each with a retry policy, each recorded in history like any step. Nothing that cancelled or timed
/// out the failed step reaches them: they are scheduled fresh, so a call that timed out still cleans up. A
/// compensation that fails after its retries does not stop the others; its failure is collected so the caller
/// can mark the sandbox.
/// </summary>
public sealed class Compensations
{
    /// <summary>
    /// The retry policy of every compensation step. A sandbox error (a refused precondition, a missing sandbox...) is
    /// not retried: the SDK's policy retries every failure unless <see cref="RetryPolicy.HandleFailure"/> says no.
    /// </summary>
    public static readonly RetryPolicy Retry = new(maxNumberOfAttempts: 3, firstRetryInterval: TimeSpan.FromMilliseconds(200), backoffCoefficient: 2)
    {
        HandleFailure = failure => !failure.IsCausedBy<SandboxException>(),
    };

    private readonly Stack<(string Name, Func<Task> Undo)> _steps = new();

    /// <summary>The compensations registered so far, most recent first.</summary>
    public IEnumerable<string> Pending => _steps.Select(s => s.Name);

    /// <summary>Registers the undo of a step that succeeded.</summary>
    public void Register(string name, Func<Task> undo) => _steps.Push((name, undo));

    /// <summary>Runs every registered compensation, most recent first, and returns what ran and what failed.</summary>
    public async Task<CompensationOutcome> RunAsync()
    {
        var ran = new List<string>();
        var failures = new List<string>();
        while (_steps.TryPop(out var step))
        {
            ran.Add(step.Name);
            try
            {
                await step.Undo();
            }
            catch (TaskFailedException ex)
            {
                failures.Add($"{step.Name}: {ex.FailureDetails.ErrorMessage}");
            }
            catch (TimeoutException ex)
            {
                failures.Add($"{step.Name}: {ex.Message}");
            }
        }

        return new CompensationOutcome(ran, failures);
    }
}

/// <summary>What a compensation run did.</summary>
/// <param name="Ran">The compensations that ran, in order.</param>
/// <param name="Failures">Those that still failed after their retries, with the reason.</param>
public sealed record CompensationOutcome(IReadOnlyList<string> Ran, IReadOnlyList<string> Failures);
