using System.Globalization;
using KataWorkflows.Orchestrations.Contracts;

namespace KataWorkflows.Chaos.Tests;

/// <summary>
/// The fault rules of one host life, drawn from the soak's RNG in the host's <c>Faults:Spec</c> syntax: a few steps
/// that fail (as the activity, or as a driver call inside it), hang until the host dies or a step timeout fires, or kill
/// the host at the step, before or after the work, a few times, for every sandbox or for one.
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

    /// <summary>One to three rules.</summary>
    public static string Next(Random rng, IReadOnlyList<string> sandboxes, bool allowAfter)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var rules = new List<string>();
        for (var i = rng.Next(1, 4); i > 0; i--)
        {
            var step = Steps[rng.Next(Steps.Length)];
            var roll = rng.NextDouble();
            var mode = roll switch
            {
                < 0.45 => "fail",
                < 0.65 => "drivererror",
                < 0.88 => "hang",
                _ => "kill",
            };
            var times = rng.Next(1, 4).ToString(CultureInfo.InvariantCulture);
            var point = allowAfter && rng.NextDouble() < 0.4 ? "after" : "before";
            var rule = $"{step}:{mode}:{times}:{point}";
            if (rng.NextDouble() < 0.5)
            {
                rule += $":sandbox={sandboxes[rng.Next(sandboxes.Count)]}";
            }

            rules.Add(rule);
        }

        return string.Join(',', rules);
    }
}
