using System.Globalization;
using KataWorkflows.Orchestrations.Contracts;

namespace KataWorkflows.Chaos.Tests;

/// <summary>
/// The fault rules of one host life, drawn from the soak's RNG in the host's <c>Faults:Spec</c> syntax: a few steps
/// that fail (as the activity, or as a driver call inside it), hang until the host dies or a step timeout fires, or kill
/// the host at the step, before or after the work, a few times, for every sandbox or for one. A <c>fail</c> after the
/// work (the activity did it and then reported a failure: no activity does that, each one undoes its own partial work
/// before it fails) is drawn only with <c>KATA_SOAK_AFTER_FAULTS=all</c>; a hang after the work (a slow step that
/// outlives its step timeout) and a driver error after the driver call (inside the activity, which undoes it) are real.
/// </summary>
internal static class FaultPlan
{
    // The steps the soak's calls go through.
    private static readonly string[] Steps =
    [
        SandboxActivities.CreateNetwork, SandboxActivities.RemoveNetwork, SandboxActivities.StartVm, SandboxActivities.StopVm,
        SandboxActivities.PauseVm, SandboxActivities.ResumeVm, SandboxActivities.GetGuestDetails, SandboxActivities.CreateContainers,
        SandboxActivities.DeleteContainers, SandboxActivities.StoreSandbox, SandboxActivities.RemoveSandboxStore,
        SandboxActivities.StartContainer, SandboxActivities.StopContainer, SandboxActivities.KillContainer, SandboxActivities.ExecProcess,
    ];

    /// <summary>Two to four rules.</summary>
    public static string Next(Random rng, IReadOnlyList<string> sandboxes, AfterFaults after)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var rules = new List<string>();
        for (var i = rng.Next(2, 5); i > 0; i--)
        {
            var step = Steps[rng.Next(Steps.Length)];
            var roll = rng.NextDouble();
            var mode = roll switch
            {
                < 0.45 => "fail",
                < 0.65 => "drivererror",
                < 0.9 => "hang",
                _ => "kill",
            };
            var times = rng.Next(1, 6).ToString(CultureInfo.InvariantCulture);
            var afterAllowed = after == AfterFaults.All || (after == AfterFaults.Real && mode != "fail");
            var point = rng.NextDouble() < 0.4 && afterAllowed ? "after" : "before";
            var rule = $"{step}:{mode}:{times}:{point}";
            // A kill for every sandbox would end the life at its first step; one sandbox's step leaves the rest some chaos.
            if (mode == "kill" || rng.NextDouble() < 0.3)
            {
                rule += $":sandbox={sandboxes[rng.Next(sandboxes.Count)]}";
            }

            rules.Add(rule);
        }

        return string.Join(',', rules);
    }
}

/// <summary>Which faults may strike after a step did its work.</summary>
internal enum AfterFaults
{
    /// <summary>None: every fault strikes before the step.</summary>
    None,

    /// <summary>Hangs and driver errors (what a slow step and a failing driver do).</summary>
    Real,

    /// <summary>Every fault after the work: fails too (an activity that did its work and reported a failure).</summary>
    All,
}
