using System.Globalization;

namespace KataWorkflows.Sandbox.Process.Tests;

/// <summary>
/// One cell of the crash matrix: a call, the step boundary the first host dies at (the <see cref="Occurrence"/>-th run of
/// <see cref="Step"/>, before or after it), and the failure injected to drive the call into its compensations.
/// </summary>
/// <param name="Call">CreateSandbox, RunSandbox or CleanupContainer.</param>
/// <param name="Step">The activity at whose boundary the host is killed.</param>
/// <param name="Occurrence">Which run of that activity (a call may take a step more than once).</param>
/// <param name="After">True: killed after the activity did its work, before its result was committed.</param>
/// <param name="Faults">Fault rules for both hosts (a failure that sends the call into compensation), or null.</param>
/// <param name="FailAt">The crash host's <c>--fail-at</c> for both hosts, or null.</param>
/// <param name="Compensated">True when the call is expected to end compensated, false when it completes.</param>
/// <param name="Steps">
/// The steps of the matrix row this case belongs to, in order: every activity a completed call schedules, or the undo
/// steps a compensated call ends with. Each case checks the run's history against it, so the matrix cannot miss a step.
/// </param>
public sealed record CrashCase(string Call, string Step, int Occurrence, bool After, string? Faults, string? FailAt, bool Compensated, IReadOnlyList<string> Steps)
{
    /// <summary>The case's name in test output.</summary>
    public string Name => $"{Call}{(Compensated ? " (compensating)" : string.Empty)}: kill {(After ? "after" : "before")} {Step}#{Occurrence.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// The first host's fault options: a kill fault rule for the first run of a step (the activity fault injector kills
    /// the process), the host's own crash point for a later run (fault rules strike the first runs of a step only).
    /// </summary>
    public IEnumerable<string> KillArguments()
    {
        var point = After ? "after" : "before";
        if (Occurrence == 1)
        {
            var kill = $"{Step}:kill:1:{point}";
            return ["--faults", Faults is null ? kill : $"{kill},{Faults}", .. FailureArguments(faults: false)];
        }

        return ["--kill-at", $"{Step}:{Occurrence.ToString(CultureInfo.InvariantCulture)}:{point}", .. FailureArguments(faults: true)];
    }

    /// <summary>The failure options both hosts get.</summary>
    public IEnumerable<string> FailureArguments(bool faults = true)
    {
        if (faults && Faults is not null)
        {
            yield return "--faults";
            yield return Faults;
        }

        if (FailAt is not null)
        {
            yield return "--fail-at";
            yield return FailAt;
        }
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
