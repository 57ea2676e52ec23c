using KataWorkflows.Activities.Faults;
using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Tests.Harness;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

/// <summary>A create step that fails undoes exactly the steps before it, in reverse, and leaves nothing behind.</summary>
public sealed class CreateCompensationTests
{
    public static TheoryData<string, string[]> CreateSteps() => new()
    {
        { SandboxActivities.CreateNetwork, [SandboxActivities.RemoveSandboxStore] },
        { SandboxActivities.StartVm, [SandboxActivities.RemoveNetwork, SandboxActivities.RemoveSandboxStore] },
        { SandboxActivities.GetGuestDetails, [SandboxActivities.StopVm, SandboxActivities.RemoveNetwork, SandboxActivities.RemoveSandboxStore] },
        { SandboxActivities.CreateContainers, [SandboxActivities.StopVm, SandboxActivities.RemoveNetwork, SandboxActivities.RemoveSandboxStore] },
        {
            SandboxActivities.StoreSandbox,
            [SandboxActivities.DeleteContainers, SandboxActivities.StopVm, SandboxActivities.RemoveNetwork, SandboxActivities.RemoveSandboxStore]
        },
    };

    [Theory]
    [MemberData(nameof(CreateSteps))]
    public async Task A_failed_create_step_undoes_the_steps_before_it_in_reverse_and_leaves_nothing(string step, string[] undo)
    {
        await using var h = await SandboxHarness.StartAsync(o => o.FaultRules.Add(new FaultRule { Step = step, Mode = FaultMode.Fail, Times = 0 }));

        var ex = await h.CallFailsAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1", "c2"));

        Assert.Equal(SandboxErrorKind.Compensated, ex.Kind);
        Assert.StartsWith($"CreateSandbox of sandbox sb1 failed at {step}: injected fault at {step}", ex.Message, StringComparison.Ordinal);
        var history = await h.HistoryAsync(ex.InstanceId!);
        var failure = history.FailureOf(step);
        Assert.True(failure >= 0, $"{step} did not fail in the history");
        Assert.Equal(undo, history.ScheduledAfter(failure));
        Assert.Equal(undo, history.Completed().SkipWhile(n => !undo.Contains(n)));
        Assert.Equal("delete", history.EntityCalls()[^1]);
        await h.AssertNothingLeftAsync("sb1");

        // The lock is free and the id unused: the next call on it runs and finds no sandbox.
        var next = await h.CallFailsAsync(Ops.DeleteSandbox, TestSandboxes.Sandbox("sb1"));
        Assert.Equal(SandboxErrorKind.NotFound, next.Kind);
    }

    [Theory]
    [MemberData(nameof(CreateSteps))]
    public async Task A_create_that_failed_once_can_be_made_again(string step, string[] undo)
    {
        Assert.NotEmpty(undo);
        await using var h = await SandboxHarness.StartAsync(o => o.FaultRules.Add(new FaultRule { Step = step, Mode = FaultMode.Fail, Times = 1 }));
        await h.CallFailsAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1"));

        var result = await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1"));

        Assert.Equal(SandboxState.Ready, result.Sandbox!.State);
        Assert.Equal(["sb1"], h.Hypervisor.RunningVms);
        Assert.Equal(["c1"], h.Agent.ContainersOf("sb1"));
        Assert.True(h.Files.Exists("sb1"));
    }

    [Fact]
    public async Task A_failed_start_in_RunSandbox_undoes_the_start_and_then_the_create()
    {
        await using var h = await SandboxHarness.StartAsync(o => o.Faults = "container.start:fail:0");

        var ex = await h.CallFailsAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));

        Assert.Equal(SandboxErrorKind.Compensated, ex.Kind);
        Assert.StartsWith("RunSandbox of sandbox sb1 failed at startSandbox", ex.Message, StringComparison.Ordinal);
        var history = await h.HistoryAsync(ex.InstanceId!);
        // The create's undo list, most recent first: storeSandbox's, createContainers', startVM's, createNetwork's, and the
        // record's (which removes the run directory again before it deletes the record).
        Assert.Equal(
            [SandboxActivities.RemoveSandboxStore, SandboxActivities.DeleteContainers, SandboxActivities.StopVm, SandboxActivities.RemoveNetwork, SandboxActivities.RemoveSandboxStore],
            history.ScheduledAfter(history.FailureOf(SandboxActivities.StartContainer)));
        await h.AssertNothingLeftAsync("sb1");
    }

    [Fact]
    public async Task A_failed_store_after_a_started_container_in_RunSandbox_stops_it_first()
    {
        await using var h = await SandboxHarness.StartAsync();
        h.Calls.Fail("store.write sb1 running");

        var ex = await h.CallFailsAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1", "c2"));

        Assert.Equal(SandboxErrorKind.Compensated, ex.Kind);
        var history = await h.HistoryAsync(ex.InstanceId!);
        var storeFailure = history.Select((e, i) => (e, i)).Last(x => x.e.TaskFailed is not null).i;
        Assert.Equal(
            [SandboxActivities.StopContainer, SandboxActivities.StopContainer, SandboxActivities.RemoveSandboxStore, SandboxActivities.DeleteContainers,
             SandboxActivities.StopVm, SandboxActivities.RemoveNetwork, SandboxActivities.RemoveSandboxStore],
            history.ScheduledAfter(storeFailure));
        await h.AssertNothingLeftAsync("sb1");
    }

    [Fact]
    public async Task An_undo_that_fails_too_keeps_the_sandbox_marked_for_cleanup_naming_both_failures()
    {
        await using var h = await SandboxHarness.StartAsync(o =>
        {
            o.FaultRules.Add(new FaultRule { Step = SandboxActivities.GetGuestDetails, Mode = FaultMode.Fail, Times = 0 });
            o.FaultRules.Add(new FaultRule { Step = SandboxActivities.StopVm, Mode = FaultMode.Fail, Times = 0 });
        });

        var ex = await h.CallFailsAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1"));

        Assert.Equal(SandboxErrorKind.CleanupRequired, ex.Kind);
        var record = await h.RequireRecordAsync("sb1");
        Assert.NotNull(record.CleanupReason);
        Assert.Contains("CreateSandbox failed at sandbox.getGuestDetails: injected fault at sandbox.getGuestDetails", record.CleanupReason, StringComparison.Ordinal);
        Assert.Contains("undoing it failed: sandbox.stopVM: injected fault at sandbox.stopVM", record.CleanupReason, StringComparison.Ordinal);
        Assert.Null(record.PendingOperation);
        Assert.Equal(record.CleanupReason, (await h.Sandboxes.StatusAsync("sb1", h.Token)).CleanupReason);
        Assert.Contains(record.CleanupReason, ex.Message, StringComparison.Ordinal);
        Assert.Null((await h.UnlockedEntityAsync("sb1"))!.LockedBy);

        // The VM whose stop failed still runs, and the record still knows it.
        Assert.Equal(["sb1"], h.Hypervisor.RunningVms);
        Assert.NotNull(record.Vm);
        var history = await h.HistoryAsync(ex.InstanceId!);
        Assert.Equal(Orchestrations.Sandboxes.Compensations.Retry.MaxNumberOfAttempts, history.Scheduled().Count(n => n == SandboxActivities.StopVm));
    }

    [Fact]
    public async Task A_sandbox_marked_for_cleanup_is_cleaned_up_by_a_delete_once_the_driver_works_again()
    {
        await using var h = await SandboxHarness.StartAsync(o =>
        {
            o.FaultRules.Add(new FaultRule { Step = SandboxActivities.GetGuestDetails, Mode = FaultMode.Fail, Times = 0 });
            o.FaultRules.Add(new FaultRule { Step = SandboxActivities.StopVm, Mode = FaultMode.Fail, Times = Orchestrations.Sandboxes.Compensations.Retry.MaxNumberOfAttempts });
        });
        Assert.Equal(SandboxErrorKind.CleanupRequired, (await h.CallFailsAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1"))).Kind);

        await h.CallAsync(Ops.DeleteSandbox, TestSandboxes.Sandbox("sb1"));

        await h.AssertNothingLeftAsync("sb1");
    }

    [Fact]
    public async Task A_hung_startVM_times_out_and_the_create_is_undone()
    {
        await using var h = await SandboxHarness.StartAsync(o => o.FaultRules.Add(new FaultRule { Step = SandboxActivities.StartVm, Mode = FaultMode.Hang, Times = 0 }));

        var ex = await h.CallFailsAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1") with { StepTimeout = TimeSpan.FromSeconds(2) });

        Assert.Equal(SandboxErrorKind.Compensated, ex.Kind);
        Assert.Contains("failed at sandbox.startVM: sandbox.startVM did not finish within 00:00:02", ex.Message, StringComparison.Ordinal);
        var history = await h.HistoryAsync(ex.InstanceId!);
        Assert.Equal(
            [SandboxActivities.StopVm, SandboxActivities.RemoveNetwork, SandboxActivities.RemoveSandboxStore],
            history.ScheduledAfter(history.FirstTimerFired()));
        await h.AssertNothingLeftAsync("sb1");
    }
}
