using KataWorkflows.RealSandbox.Tests.Harness;
using A = KataWorkflows.Orchestrations.Contracts.SandboxActivities;

namespace KataWorkflows.RealSandbox.Tests;

/// <summary>
/// A create that fails at each of its steps, after the step's driver call did its work (fault injection on the real
/// drivers: a driver error reported once the call returned), is compensated and leaves nothing on the host: the step
/// undoes its own partial work and the compensations undo the steps before it.
/// </summary>
public sealed class FailedCreateTests
{
    [Fact]
    public async Task A_create_that_fails_at_any_step_after_its_driver_call_leaves_nothing_behind()
    {
        RealParts.Require();
        await using var site = new RealSite("fail");
        var cases = new (string Step, string Mode)[]
        {
            (A.CreateNetwork, "drivererror"), (A.StartVm, "drivererror"), (A.GetGuestDetails, "drivererror"), (A.CreateContainers, "drivererror"), (A.StoreSandbox, "fail"),
        };
        var ids = cases.Select(c => site.NewSandboxId(c.Step.Split('.')[1].ToLowerInvariant()[..6])).ToList();
        var faults = string.Join(',', cases.Select((c, i) => $"{c.Step}:{c.Mode}:1:after:sandbox={ids[i]}"));
        await using var host = await RealHost.StartAsync(site, faults);
        var failures = new List<string>();
        for (var i = 0; i < cases.Length; i++)
        {
            var result = await site.KwfAsync("--json", "sandbox", "create", "--config", await Sandboxes.ConfigFileAsync(site, ids[i], "c1"));
            Assert.True(result.Exit != 0, $"the create failing at {cases[i].Step} succeeded:\n{result}");
            Assert.Contains("compensated", result.Stdout, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(ids[i], await site.RecordsAsync());
            var leaks = await LeakChecker.FindAsync(site, await site.RecordsAsync());
            if (leaks.Count > 0)
            {
                failures.Add($"failing at {cases[i].Step} ({cases[i].Mode} after the driver call) left:\n    {string.Join("\n    ", leaks)}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
