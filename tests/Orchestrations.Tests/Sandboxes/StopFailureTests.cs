using KataWorkflows.Activities.Faults;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Tests.Harness;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

/// <summary>
/// A StopSandbox whose stopVM fails. The driver may have stopped the VM before it failed (the chaos soak once found a
/// record naming a VM that no longer ran), so the record keeps the VM and is marked for cleanup; a later stop clears it.
/// </summary>
public sealed class StopFailureTests
{
    [Theory]
    [InlineData(FaultMode.DriverError, FaultPoint.After, false)]
    [InlineData(FaultMode.DriverError, FaultPoint.Before, true)]
    [InlineData(FaultMode.Fail, FaultPoint.Before, true)]
    public async Task A_failed_stopVM_marks_the_sandbox_for_cleanup_and_the_next_stop_clears_the_mark(FaultMode mode, FaultPoint point, bool vmStillRuns)
    {
        // A driver error strikes each driver call of stopVM: the guest's DestroySandbox first (only a warning, as in
        // Kata), then the hypervisor's stop, which fails the step.
        var times = mode == FaultMode.DriverError ? 2 : 1;
        await using var h = await SandboxHarness.StartAsync(o =>
            o.FaultRules.Add(new FaultRule { Step = SandboxActivities.StopVm, Mode = mode, Times = times, When = point }));
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));

        var ex = await h.CallFailsAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));

        // Whatever the driver did, the record does not claim to know: it keeps the VM and says why it needs cleaning up.
        var marked = await h.RequireRecordAsync("sb1");
        Assert.NotNull(marked.Vm);
        Assert.StartsWith("StopSandbox: ", marked.CleanupReason, StringComparison.Ordinal);
        Assert.Contains("the VM may be up or gone", marked.CleanupReason, StringComparison.Ordinal);
        Assert.Contains("injected", marked.CleanupReason, StringComparison.Ordinal);
        Assert.Null(marked.PendingOperation);
        Assert.Null((await h.UnlockedEntityAsync("sb1"))!.LockedBy);
        Assert.Equal(vmStillRuns ? ["sb1"] : [], h.Hypervisor.RunningVms);
        Assert.NotNull(ex.InstanceId);

        // The next stop stops the VM if it still runs (and succeeds if it is gone), and the record is clean again.
        var stopped = await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));
        Assert.Equal(SandboxState.Stopped, stopped.Sandbox!.State);
        var record = await h.RequireRecordAsync("sb1");
        Assert.Null(record.CleanupReason);
        Assert.Null(record.Vm);
        Assert.Empty(h.Hypervisor.RunningVms);
    }
}
