using KataWorkflows.Activities.Faults;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Tests.Harness;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

/// <summary>
/// Calls that a host restart interrupts finish on the next host, from the SQLite store. Each test stops the host once a
/// hang fault has struck (<see cref="SandboxHarness.WaitForStrikeAsync"/>), not once its step was taken: a step taken
/// has not reached its fault yet, and a host stopped in between leaves the fault unspent, to strike again in the next
/// host (<see cref="A_hang_that_a_restart_interrupts_before_it_struck_strikes_in_the_next_host"/>).
/// </summary>
public sealed class RestartTests
{
    [Theory]
    [InlineData(FaultPoint.Before)]
    [InlineData(FaultPoint.After)]
    public async Task A_run_interrupted_in_startVM_finishes_after_a_restart_with_one_VM(FaultPoint point)
    {
        await using var h = await SandboxHarness.StartAsync(o =>
        {
            o.Sqlite = true;
            o.FaultRules.Add(new FaultRule { Step = SandboxActivities.StartVm, Mode = FaultMode.Hang, Times = 1, When = point });
        });
        var id = await h.Sandboxes.StartAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"), "r1", h.Token);
        await h.WaitForStrikeAsync(SandboxActivities.StartVm, point);

        await h.RestartAsync();
        var result = await h.Sandboxes.WaitAsync(id, h.Token);

        Assert.Equal(SandboxState.Running, result.Sandbox!.State);
        await AssertOneVmAsync(h, id, startVmCalls: point == FaultPoint.Before ? 1 : 2);
    }

    /// <summary>
    /// The cause of a hang once seen in CI under load: the test restarted the host as soon as startVM was taken, and the
    /// activity, cancelled before it reached its hang, had not spent the rule, so startVM hung in the next host until
    /// the test's time ran out. Here the step is held inside its driver call while the host stops, on purpose.
    /// </summary>
    [Fact]
    public async Task A_hang_that_a_restart_interrupts_before_it_struck_strikes_in_the_next_host()
    {
        var hang = new FaultRule { Step = SandboxActivities.StartVm, Mode = FaultMode.Hang, Times = 1, When = FaultPoint.After };
        await using var h = await SandboxHarness.StartAsync(o =>
        {
            o.Sqlite = true;
            o.FaultRules.Add(hang);
        });
        var held = h.Recorder.HoldNextStart();
        var id = await h.Sandboxes.StartAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"), "r1", h.Token);
        await held.WaitAsync(h.Token);

        // Stopped inside the driver call, before the fault's point: the rule has not struck. (Checked while no host
        // runs: once the next host is up, it may strike at once, which once failed this check in CI.)
        var matchesWhileDown = -1;
        await h.RestartAsync(() => matchesWhileDown = h.Faults.Matches(hang));
        Assert.Equal(0, matchesWhileDown);

        // The next host runs startVM again, and the hang strikes there: the run waits in it, as a real hung step would.
        var strike = await h.WaitForStrikeAsync(SandboxActivities.StartVm, FaultPoint.After);
        Assert.Equal(1, strike.Occurrence);
        Assert.Equal(Engine.OrchestrationRuntimeStatus.Running, (await h.Client.GetInstanceRecordAsync(id, cancellation: h.Token))!.Status);

        // Once the hang is spent, a further restart finishes the run with the one VM.
        await h.RestartAsync();
        var result = await h.Sandboxes.WaitAsync(id, h.Token);

        Assert.Equal(SandboxState.Running, result.Sandbox!.State);
        await AssertOneVmAsync(h, id, startVmCalls: 3);
    }

    [Fact]
    public async Task A_compensation_interrupted_by_a_restart_is_finished_by_the_next_host()
    {
        await using var h = await SandboxHarness.StartAsync(o =>
        {
            o.Sqlite = true;
            o.Faults = "sandbox.createContainers:fail:0,sandbox.stopVM:hang:1";
        });
        var id = await h.Sandboxes.StartAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1"), "r1", h.Token);
        await h.WaitForStrikeAsync(SandboxActivities.StopVm, FaultPoint.Before);
        Assert.Equal(id, (await h.RequireRecordAsync("sb1")).PendingOperation);

        await h.RestartAsync();
        var ex = await Assert.ThrowsAsync<Client.SandboxCallException>(() => h.Sandboxes.WaitAsync(id, h.Token));

        Assert.Equal(Client.SandboxErrorKind.Compensated, ex.Kind);
        await h.AssertNothingLeftAsync("sb1");
    }

    /// <summary>One VM runs, startVM was scheduled once and called as often as given, and the record names that VM.</summary>
    private static async Task AssertOneVmAsync(SandboxHarness h, string id, int startVmCalls)
    {
        Assert.Equal(["sb1"], h.Hypervisor.RunningVms);
        Assert.Equal(["c1"], h.Agent.ContainersOf("sb1"));
        Assert.Equal(startVmCalls, h.Calls.Of("sb1", "hypervisor.startVM").Count);
        var history = await h.HistoryAsync(id);
        Assert.Single(history.Scheduled(), n => n == SandboxActivities.StartVm);
        var record = await h.RequireRecordAsync("sb1");
        Assert.Null(record.PendingOperation);
        Assert.Equal(h.Hypervisor.TryGetVm("sb1", out var vm) ? vm.Uuid : null, record.Vm!.Uuid);
        Assert.Null((await h.UnlockedEntityAsync("sb1"))!.LockedBy);
    }
}
