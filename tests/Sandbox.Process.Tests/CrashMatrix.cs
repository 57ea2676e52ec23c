using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Sandboxes;

namespace KataWorkflows.Sandbox.Process.Tests;

/// <summary>
/// Every step boundary of CreateSandbox, RunSandbox and CleanupContainer (one container), and of their compensations
/// when a failure sends them there: the activities each run schedules, in order, as the orchestration code takes them.
/// </summary>
public static class CrashMatrix
{
    /// <summary>A failure of CreateSandbox's last step: every create step before it is undone.</summary>
    public const string CreateFailure = "sandbox.storeSandbox:fail:1";

    /// <summary>A failure of RunSandbox's last step (the store after the start): the start and then the create are undone.</summary>
    public const string RunFailure = "sandbox.storeSandbox:2";

    private static readonly string[] CreateSteps =
    [
        SandboxActivities.CreateNetwork, SandboxActivities.StartVm, SandboxActivities.GetGuestDetails, SandboxActivities.CreateContainers,
        SandboxActivities.StoreSandbox,
    ];

    /// <summary>CreateSandbox, completing.</summary>
    public static IReadOnlyList<CrashCase> Create { get; } = Boundaries(SandboxOrchestrations.CreateSandbox, CreateSteps, null, null, compensated: false);

    /// <summary>CreateSandbox whose store fails: the kills hit its undo steps, most recent first.</summary>
    public static IReadOnlyList<CrashCase> CreateCompensation { get; } = Boundaries(
        SandboxOrchestrations.CreateSandbox,
        [SandboxActivities.DeleteContainers, SandboxActivities.StopVm, SandboxActivities.RemoveNetwork, SandboxActivities.RemoveSandboxStore],
        CreateFailure,
        null,
        compensated: true);

    /// <summary>RunSandbox, completing: the create steps, then the container's start and the store.</summary>
    public static IReadOnlyList<CrashCase> Run { get; } = Boundaries(
        SandboxOrchestrations.RunSandbox, [.. CreateSteps, SandboxActivities.StartContainer, SandboxActivities.StoreSandbox], null, null, compensated: false);

    /// <summary>
    /// RunSandbox whose last store fails: the start's undo (the container's stop), then the create's, most recent first
    /// (the store's removal, the containers', the VM's, the network's, and the record's, which removes the run directory
    /// again).
    /// </summary>
    public static IReadOnlyList<CrashCase> RunCompensation { get; } = Boundaries(
        SandboxOrchestrations.RunSandbox,
        [
            SandboxActivities.StopContainer, SandboxActivities.RemoveSandboxStore, SandboxActivities.DeleteContainers, SandboxActivities.StopVm,
            SandboxActivities.RemoveNetwork, SandboxActivities.RemoveSandboxStore,
        ],
        null,
        RunFailure,
        compensated: true);

    /// <summary>CleanupContainer of the last container: its stop and delete, then the sandbox's stop and delete.</summary>
    public static IReadOnlyList<CrashCase> Cleanup { get; } = Boundaries(
        SandboxOrchestrations.CleanupContainer,
        [
            SandboxActivities.StopContainer, SandboxActivities.StoreSandbox, SandboxActivities.StoreSandbox, SandboxActivities.StopVm,
            SandboxActivities.RemoveNetwork, SandboxActivities.StoreSandbox, SandboxActivities.RemoveSandboxStore,
        ],
        null,
        null,
        compensated: false);

    /// <summary>Every case, by name.</summary>
    public static IReadOnlyDictionary<string, CrashCase> All { get; } =
        new[] { Create, CreateCompensation, Run, RunCompensation, Cleanup }.SelectMany(c => c).ToDictionary(c => c.Name);

    /// <summary>The names of a list of cases, as theory data.</summary>
    public static TheoryData<string> Names(IEnumerable<CrashCase> cases) => new(cases.Select(c => c.Name));

    private static List<CrashCase> Boundaries(string call, IEnumerable<string> steps, string? faults, string? failAt, bool compensated)
    {
        string[] row = [.. steps];
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var cases = new List<CrashCase>();
        foreach (var step in row)
        {
            var occurrence = seen[step] = seen.GetValueOrDefault(step) + 1;
            cases.Add(new CrashCase(call, step, occurrence, After: false, faults, failAt, compensated, row));
            cases.Add(new CrashCase(call, step, occurrence, After: true, faults, failAt, compensated, row));
        }

        return cases;
    }
}
