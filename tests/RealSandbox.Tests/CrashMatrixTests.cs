using System.Globalization;
using KataWorkflows.Engine;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;
using KataWorkflows.RealSandbox.Tests.Harness;
using A = KataWorkflows.Orchestrations.Contracts.SandboxActivities;

namespace KataWorkflows.RealSandbox.Tests;

/// <summary>
/// The crash matrix on the real drivers (QEMU under TCG, the Kata agent, tcfilter): the host process is SIGKILLed at
/// every step boundary of CreateSandbox, RunSandbox and CleanupContainer and of their compensations, and a restarted
/// host ends every run complete or compensated with nothing leaked. To keep the boots few, each row is one run killed
/// at all of its boundaries in turn: each host dies at the next boundary (a kill fault rule), the next host resumes the
/// run from that point and dies at the one after, and the last host, with no kill, finishes it. Every host's death is
/// checked in the store (the step it died in is the run's only open task, at the right occurrence), so each boundary is
/// one the run really resumed from. A completed create or run is then cleaned up through kwf, which proves the record
/// knows the VM and network the killed hosts made: once it is gone, nothing is left.
/// </summary>
public sealed class CrashMatrixTests
{
    private const int SigKillExit = 128 + 9;

    private static readonly string[] CreateSteps = [A.CreateNetwork, A.StartVm, A.GetGuestDetails, A.CreateContainers, A.StoreSandbox];

    // Each undo step and the step it undoes: once a compensated run is over, each completed step has its undo completed after it.
    private static readonly (string Step, string Undo)[] UndoOf =
    [
        (A.CreateNetwork, A.RemoveNetwork), (A.StartVm, A.StopVm), (A.CreateContainers, A.DeleteContainers), (A.StartContainer, A.StopContainer),
        (A.StoreSandbox, A.RemoveSandboxStore),
    ];

    [Fact]
    public Task CreateSandbox_killed_at_every_step_boundary_completes() =>
        RunRowAsync("cr", SandboxOrchestrations.CreateSandbox, CreateSteps, failure: null, compensated: false);

    [Fact]
    public Task A_failed_CreateSandbox_killed_at_every_undo_boundary_is_fully_undone() =>
        RunRowAsync("crc", SandboxOrchestrations.CreateSandbox, [A.DeleteContainers, A.StopVm, A.RemoveNetwork, A.RemoveSandboxStore], failure: "sandbox.storeSandbox:fail:1", compensated: true);

    [Fact]
    public Task RunSandbox_killed_at_every_step_boundary_completes() =>
        RunRowAsync("rn", SandboxOrchestrations.RunSandbox, [.. CreateSteps, A.StartContainer, A.StoreSandbox], failure: null, compensated: false);

    [Fact]
    public Task A_failed_RunSandbox_killed_at_every_undo_boundary_is_fully_undone() =>
        RunRowAsync(
            "rnc",
            SandboxOrchestrations.RunSandbox,
            [A.StopContainer, A.RemoveSandboxStore, A.DeleteContainers, A.StopVm, A.RemoveNetwork, A.RemoveSandboxStore],
            failure: "sandbox.storeSandbox:fail:1:after:skip=1",
            compensated: true);

    [Fact]
    public Task CleanupContainer_killed_at_every_step_boundary_removes_the_sandbox() =>
        RunRowAsync(
            "cl",
            SandboxOrchestrations.CleanupContainer,
            [A.StopContainer, A.StoreSandbox, A.StoreSandbox, A.StopVm, A.RemoveNetwork, A.StoreSandbox, A.RemoveSandboxStore],
            failure: null,
            compensated: false);

    /// <summary>
    /// One row: the call, killed before and after each of <paramref name="steps"/> (the steps the call takes, or the undo
    /// steps it ends with when <paramref name="failure"/>, given to the first host, sends it into compensation).
    /// </summary>
    private static async Task RunRowAsync(string name, string call, string[] steps, string? failure, bool compensated)
    {
        RealParts.Require();
        await using var site = new RealSite(name);
        var id = site.NewSandboxId(name);
        var instanceId = $"{call}:{id}:r1";
        string[] callArgs = call == SandboxOrchestrations.CleanupContainer
            ? ["--request-id", "r1", "--no-wait", "cleanup", id, "c1"]
            : ["--request-id", "r1", "--no-wait", "sandbox", call == SandboxOrchestrations.RunSandbox ? "run" : "create", "--config", await Sandboxes.ConfigFileAsync(site, id, "c1")];

        if (call == SandboxOrchestrations.CleanupContainer)
        {
            await using var setup = await RealHost.StartAsync(site);
            await Sandboxes.CallAsync(site, "sandbox", "run", "--config", await Sandboxes.ConfigFileAsync(site, id, "c1"));
            await setup.StopAsync();
        }

        // The boundaries in the order the run meets them, and for each the rule that kills the host there: the step's
        // run in that host is counted from the step the host resumes at (the one the previous host died in).
        var boundaries = steps.SelectMany((s, i) => new[] { (Step: s, Index: i, After: false), (Step: s, Index: i, After: true) }).ToList();
        var resumeAt = 0;
        for (var k = 0; k < boundaries.Count; k++)
        {
            var (step, index, after) = boundaries[k];
            var skip = Enumerable.Range(resumeAt, index - resumeAt).Count(i => steps[i] == step);
            var kill = $"{step}:kill:1:{(after ? "after" : "before")}{(skip > 0 ? $":skip={skip.ToString(CultureInfo.InvariantCulture)}" : "")}";
            var faults = k == 0 && failure is not null ? $"{kill},{failure}" : kill;
            // A restarted host resumes the run at once and may die before it would answer a call: only the first is awaited.
            var host = await RealHost.StartAsync(site, faults, waitReady: k == 0);
            await using (host)
            {
                if (k == 0)
                {
                    // The run is stored before kwf's call is answered, and the host may reach the first kill before its
                    // answer is on the wire: then kwf sees the connection drop (exit 7, "cannot reach the host"). Either
                    // way the store, read below, must hold the run waiting in the first step.
                    var started = await site.KwfAsync(callArgs);
                    Assert.True(started.Exit == 0 || (started.Exit == 7 && started.Stderr.Contains("cannot reach the host", StringComparison.Ordinal)), started.ToString());
                }

                var exit = await host.WaitForExitAsync(TimeSpan.FromMinutes(5));
                Assert.True(exit == SigKillExit, $"boundary {k} ({kill}): the host exited with {exit}, not by SIGKILL\n{Run.Cut(host.Log)}");
            }

            await using (var store = await StoreReader.OpenAsync(site))
            {
                var history = await store.HistoryAsync(instanceId);
                Assert.Equal([step], StoreReader.OpenTasks(history));
                var occurrence = steps.Take(index + 1).Count(s => s == step);
                var scheduled = StoreReader.Scheduled(history);
                Assert.True(scheduled.Count(s => s == step) == occurrence, $"boundary {k} ({kill}): {step} should be at its run {occurrence}; scheduled [{string.Join(", ", scheduled)}]");
            }

            resumeAt = index;
        }

        // The last host has no kill: the run ends, and what it leaves must match the record.
        await using (var last = await RealHost.StartAsync(site))
        {
            var shown = await site.KwfAsync("--json", "wf", "show", "--wait", instanceId);
            Assert.True(shown.Stdout.Contains(instanceId, StringComparison.Ordinal), shown.ToString());
            await last.StopAsync();
        }

        SandboxRecord? record;
        await using (var store = await StoreReader.OpenAsync(site))
        {
            var run = await store.RunAsync(instanceId);
            var history = await store.HistoryAsync(instanceId);
            var (found, locked) = await store.SandboxAsync(id);
            record = found;
            Assert.Empty(StoreReader.OpenTasks(history));
            Assert.False(locked, "the sandbox is still locked after the run");
            var scheduled = StoreReader.Scheduled(history);
            var tail = compensated ? scheduled.Skip(Math.Max(0, scheduled.Count - steps.Length)).ToList() : scheduled.ToList();
            Assert.True(tail.SequenceEqual(steps), $"the run scheduled [{string.Join(", ", scheduled)}]; the row is [{string.Join(", ", steps)}]");
            if (compensated)
            {
                Assert.Equal(OrchestrationRuntimeStatus.Failed, run!.Status);
                Assert.Equal(typeof(SandboxOperationCompensatedException).FullName, run.FailureDetails!.ErrorType);
                Assert.Null(record);
                var completed = Completed(history);
                foreach (var (done, undo) in UndoOf)
                {
                    var at = completed.FindLastIndex(n => n == done);
                    Assert.True(at < 0 || completed.FindLastIndex(n => n == undo) > at, $"{done} completed but {undo} did not after it ({string.Join(", ", completed)})");
                }
            }
            else
            {
                Assert.Equal(OrchestrationRuntimeStatus.Completed, run!.Status);
                if (call == SandboxOrchestrations.CleanupContainer)
                {
                    Assert.Null(record);
                }
                else
                {
                    Assert.NotNull(record);
                    Assert.Equal(call == SandboxOrchestrations.RunSandbox ? SandboxState.Running : SandboxState.Ready, record.State);
                    Assert.Null(record.PendingOperation);
                    Assert.Null(record.CleanupReason);
                }
            }
        }

        await LeakChecker.AssertNoneAsync(site, record is null ? [] : [id], $"after the {name} row");
        if (record is not null)
        {
            // One VM only: the one the record knows, found again by every restarted startVM rather than started twice.
            Assert.Single(Inspect.QemuProcesses(site.VmDirectory(id)));
            await using var cleanup = await RealHost.StartAsync(site);
            await Sandboxes.CallAsync(site, "cleanup", id, "c1");
            await LeakChecker.AssertNoneAsync(site, await site.RecordsAsync(), $"after the {name} row's sandbox was cleaned up");
        }
    }

    private static List<string> Completed(IReadOnlyList<Microsoft.DurableTask.Protobuf.HistoryEvent> history)
    {
        var names = history.Where(e => e.TaskScheduled is not null).ToDictionary(e => e.EventId, e => e.TaskScheduled.Name);
        return [.. history.Where(e => e.TaskCompleted is not null).Select(e => names[e.TaskCompleted.TaskScheduledId])];
    }
}
