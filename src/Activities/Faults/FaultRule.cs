using System.Globalization;

namespace KataWorkflows.Activities.Faults;

/// <summary>One fault to inject: where, for which sandbox, what, how often and when.</summary>
public sealed record FaultRule
{
    /// <summary>The activity name, e.g. <c>sandbox.startVM</c> (one of <c>SandboxActivities</c>; case-insensitive).</summary>
    public string Step { get; init; } = string.Empty;

    /// <summary>Only this sandbox; null or empty for every sandbox.</summary>
    public string? SandboxId { get; init; }

    /// <summary>What the fault does.</summary>
    public FaultMode Mode { get; init; } = FaultMode.Fail;

    /// <summary>How many times it strikes in this process; 0 for every time.</summary>
    public int Times { get; init; }

    /// <summary>Before or after the work.</summary>
    public FaultPoint When { get; init; } = FaultPoint.Before;

    /// <summary>
    /// How many matches in this process pass before the rule strikes: with 1, the second run of the step is the first
    /// it strikes (a crash test that resumes a run can hit a step that runs twice in a row, such as two storeSandbox).
    /// </summary>
    public int Skip { get; init; }

    /// <summary>The rule in the string form <see cref="FaultInjectionOptions.Parse"/> reads.</summary>
    public override string ToString()
    {
        var text = $"{Step}:{ModeToken(Mode)}:{Times.ToString(CultureInfo.InvariantCulture)}:{When.ToString().ToLowerInvariant()}";
        text = string.IsNullOrEmpty(SandboxId) ? text : $"{text}:sandbox={SandboxId}";
        return Skip == 0 ? text : $"{text}:skip={Skip.ToString(CultureInfo.InvariantCulture)}";
    }

    internal static string ModeToken(FaultMode mode) => mode switch
    {
        FaultMode.Fail => "fail",
        FaultMode.Hang => "hang",
        FaultMode.KillProcess => "kill",
        _ => "drivererror",
    };
}
