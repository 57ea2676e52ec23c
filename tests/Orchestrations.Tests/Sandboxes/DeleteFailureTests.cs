using KataWorkflows.Activities.Faults;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Tests.Harness;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

/// <summary>
/// A DeleteSandbox that fails partway. Its earlier steps took the VM or the network down, and the failing step may have
/// done its work first (the chaos soak found a Paused record naming the VM a failed delete had stopped, and a Stopped
/// record whose run directory a failed removeSandboxStore had removed). The record drops what is gone, is marked for
/// cleanup, and a second delete finishes the job.
/// </summary>
public sealed class DeleteFailureTests
{
    [Theory]
    [InlineData(SandboxState.Ready, SandboxActivities.RemoveNetwork, FaultMode.Fail, FaultPoint.Before)]
    [InlineData(SandboxState.Paused, SandboxActivities.RemoveNetwork, FaultMode.Fail, FaultPoint.Before)]
    [InlineData(SandboxState.Stopped, SandboxActivities.RemoveSandboxStore, FaultMode.DriverError, FaultPoint.After)]
    [InlineData(SandboxState.Paused, SandboxActivities.RemoveSandboxStore, FaultMode.Fail, FaultPoint.Before)]
    public async Task A_delete_that_fails_partway_marks_the_record_and_a_second_delete_finishes(SandboxState state, string step, FaultMode mode, FaultPoint point)
    {
        await using var h = await SandboxHarness.StartAsync(o =>
            o.FaultRules.Add(new FaultRule { Step = step, Mode = mode, Times = 1, When = point }));
        if (state == SandboxState.Ready)
        {
            // A created sandbox is ready with its VM up and its network, as in Kata.
            await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1"));
        }
        else
        {
            await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
            await h.CallAsync(state == SandboxState.Paused ? Ops.PauseSandbox : Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));
        }

        Assert.Equal(state, (await h.RequireRecordAsync("sb1")).State);

        await h.CallFailsAsync(Ops.DeleteSandbox, TestSandboxes.Sandbox("sb1"));

        // The VM is down (the delete stopped it, or a stop before it), and the record says so; it is marked, so nothing
        // claims it is whole.
        var marked = await h.RequireRecordAsync("sb1");
        Assert.Null(marked.Vm);
        Assert.Empty(h.Hypervisor.RunningVms);
        Assert.StartsWith("DeleteSandbox: ", marked.CleanupReason, StringComparison.Ordinal);
        Assert.Contains("delete it again", marked.CleanupReason, StringComparison.Ordinal);
        Assert.Contains("injected", marked.CleanupReason, StringComparison.Ordinal);
        if (step == SandboxActivities.RemoveSandboxStore)
        {
            Assert.Null(marked.Network); // removeNetwork went through before the failing step
        }

        Assert.Null(marked.PendingOperation);
        Assert.Null((await h.UnlockedEntityAsync("sb1"))!.LockedBy);

        // Deleting it again removes what is left; nothing stays behind.
        await h.CallAsync(Ops.DeleteSandbox, TestSandboxes.Sandbox("sb1"));
        Assert.Null(await h.RecordAsync("sb1"));
        Assert.False(Directory.Exists(h.Files.SandboxDirectory("sb1")), $"{h.Files.SandboxDirectory("sb1")} is left");
        Assert.Empty(h.Hypervisor.RunningVms);
    }
}
