using KataWorkflows.Activities;
using KataWorkflows.Activities.Faults;
using KataWorkflows.Activities.Hypervisors;
using KataWorkflows.Activities.Hypervisors.Mock;
using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Tests.Harness;
using Microsoft.Extensions.DependencyInjection;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

/// <summary>StartSandbox, StopSandbox, DeleteSandbox, PauseSandbox and ResumeSandbox.</summary>
public sealed class SandboxCallTests
{
    [Fact]
    public async Task StartSandbox_starts_a_ready_sandbox_and_its_containers_in_the_VM_it_has()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1", "c2"));

        var result = await h.CallAsync(Ops.StartSandbox, TestSandboxes.Sandbox("sb1"));

        Assert.Equal(SandboxState.Running, result.Sandbox!.State);
        Assert.All(result.Sandbox.Containers, c => Assert.Equal(SandboxState.Running, c.State));
        Assert.Single(h.Calls.Of("sb1", "hypervisor.startVM"));
        Assert.Equal(["agent.startContainer sb1 c1", "agent.startContainer sb1 c2"], h.Calls.Of("sb1", "agent.startContainer"));
        Assert.Equal("running", (await h.Files.ReadAsync("sb1", h.Token))!.State);
        Assert.Equal(SandboxState.Running, (await h.RequireRecordAsync("sb1")).State);
    }

    [Fact]
    public async Task StartSandbox_on_a_stopped_sandbox_brings_back_its_network_VM_and_containers()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
        await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));

        var result = await h.CallAsync(Ops.StartSandbox, TestSandboxes.Sandbox("sb1"));

        Assert.Equal(SandboxState.Running, result.Sandbox!.State);
        Assert.Equal(SandboxState.Running, Assert.Single(result.Sandbox.Containers).State);
        var record = await h.RequireRecordAsync("sb1");
        Assert.NotNull(record.Vm);
        Assert.NotNull(record.Network);
        Assert.Equal(["sb1"], h.Hypervisor.RunningVms);
        Assert.Equal(2, h.Calls.Of("sb1", "hypervisor.startVM").Count);

        // The new VM's guest runs the container again: the record does not claim a container the guest lacks.
        Assert.Contains("sb1", h.Agent.Sandboxes);
        Assert.Equal(["c1"], h.Agent.ContainersOf("sb1"));
    }

    [Fact]
    public async Task StartSandbox_on_a_running_sandbox_is_Katas_Can_not_move_from_running_to_running()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));

        var ex = await h.CallFailsAsync(Ops.StartSandbox, TestSandboxes.Sandbox("sb1"));

        Assert.Equal(SandboxErrorKind.FailedPrecondition, ex.Kind);
        Assert.StartsWith("Can not move from running to running", ex.Message, StringComparison.Ordinal);
        Assert.Single(h.Calls.Of("sb1", "agent.startContainer"));
    }

    [Fact]
    public async Task StartSandbox_on_a_paused_sandbox_is_refused_and_leaves_it_paused()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
        await h.CallAsync(Ops.PauseSandbox, TestSandboxes.Sandbox("sb1"));
        var before = await h.RequireRecordAsync("sb1");

        var ex = await h.CallFailsAsync(Ops.StartSandbox, TestSandboxes.Sandbox("sb1"));

        Assert.Equal(SandboxErrorKind.FailedPrecondition, ex.Kind);
        Assert.Equal("Sandbox not ready or stopped, impossible to start (sandbox sb1 is paused)", ex.Message);
        Assert.Equal(before, await h.RequireRecordAsync("sb1"), SandboxRecordComparer.Instance);
        Assert.True(h.Hypervisor.TryGetVm("sb1", out var vm) && vm.Paused);
    }

    [Fact]
    public async Task A_container_that_fails_to_start_undoes_the_whole_start()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1", "c2"));
        var before = await h.RequireRecordAsync("sb1");
        h.Calls.Fail("agent.startContainer sb1 c2");

        var ex = await h.CallFailsAsync(Ops.StartSandbox, TestSandboxes.Sandbox("sb1"));

        Assert.Equal(SandboxErrorKind.Failed, ex.Kind);
        Assert.Contains("armed driver failure", ex.Message, StringComparison.Ordinal);
        var history = await h.HistoryAsync(ex.InstanceId!);
        Assert.Equal([SandboxActivities.StopContainer], history.ScheduledAfter(LastFailure(history)));
        var after = await h.RequireRecordAsync("sb1");
        Assert.Equal(SandboxState.Ready, after.State);
        Assert.DoesNotContain(after.Containers, c => c.State == SandboxState.Running);
        Assert.Equal(before.Vm, after.Vm);
        Assert.Equal(["agent.signalProcess sb1 c1 9 all=True", "agent.removeContainer sb1 c1"], h.Calls.Of("sb1").SkipWhile(c => c != "agent.startContainer sb1 c2").Skip(1));
    }

    private static int LastFailure(IReadOnlyList<Microsoft.DurableTask.Protobuf.HistoryEvent> history)
    {
        for (var i = history.Count - 1; i >= 0; i--)
        {
            if (history[i].TaskFailed is not null)
            {
                return i;
            }
        }

        return -1;
    }

    [Fact]
    public async Task StopSandbox_stops_containers_then_the_VM_then_the_network()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));

        var result = await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));

        Assert.Equal(SandboxState.Stopped, result.Sandbox!.State);
        Assert.Equal(SandboxState.Stopped, Assert.Single(result.Sandbox.Containers).State);
        var record = await h.RequireRecordAsync("sb1");
        Assert.Null(record.Vm);
        Assert.Null(record.Network);
        Assert.Empty(h.Hypervisor.RunningVms);
        Assert.Empty(h.Agent.ContainersOf("sb1"));
        Assert.DoesNotContain("sb1", h.Agent.Sandboxes);
        Assert.Equal(
            ["agent.signalProcess sb1 c1 9 all=True", "agent.removeContainer sb1 c1", "agent.destroySandbox sb1", "hypervisor.stopVM sb1", "store.write sb1 stopped"],
            h.Calls.Of("sb1").SkipWhile(c => c != "store.write sb1 running").Skip(1));
        Assert.Equal("stopped", (await h.Files.ReadAsync("sb1", h.Token))!.State);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StopSandbox_on_a_ready_or_paused_sandbox_stops_it(bool paused)
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(paused ? Ops.RunSandbox : Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1"));
        if (paused)
        {
            await h.CallAsync(Ops.PauseSandbox, TestSandboxes.Sandbox("sb1"));
        }

        var result = await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));

        Assert.Equal(SandboxState.Stopped, result.Sandbox!.State);
        Assert.Equal(SandboxState.Stopped, Assert.Single(result.Sandbox.Containers).State);
        Assert.Empty(h.Hypervisor.RunningVms);
        Assert.Empty(h.Agent.ContainersOf("sb1"));
    }

    [Fact]
    public async Task StopSandbox_on_a_stopped_sandbox_does_nothing()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
        await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));
        var before = await h.RequireRecordAsync("sb1");
        var calls = h.Calls.All.Count;

        var result = await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));

        Assert.Equal(SandboxState.Stopped, result.Sandbox!.State);
        Assert.Equal(calls, h.Calls.All.Count);
        Assert.Equal(before, await h.RequireRecordAsync("sb1"), SandboxRecordComparer.Instance);
    }

    [Fact]
    public async Task StopSandbox_with_force_skips_driver_errors_that_fail_it_without()
    {
        await using var h = await SandboxHarness.StartAsync(o => o.Faults = "container.stop:drivererror:0");
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));

        var ex = await h.CallFailsAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));
        Assert.Equal(SandboxErrorKind.Failed, ex.Kind);
        Assert.Contains("injected driver error", ex.Message, StringComparison.Ordinal);
        Assert.Equal(SandboxState.Running, (await h.RequireRecordAsync("sb1")).State);

        var result = await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1", force: true));

        Assert.Equal(SandboxState.Stopped, result.Sandbox!.State);
        Assert.Empty(h.Hypervisor.RunningVms);
    }

    [Fact]
    public async Task DeleteSandbox_removes_a_stopped_sandbox_entirely()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
        await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));

        var result = await h.CallAsync(Ops.DeleteSandbox, TestSandboxes.Sandbox("sb1"));

        Assert.Null(result.Sandbox);
        await h.AssertNothingLeftAsync("sb1");
        Assert.Equal("store.remove sb1", h.Calls.Of("sb1")[^1]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DeleteSandbox_of_a_ready_or_paused_sandbox_stops_its_VM_instead_of_leaking_it(bool paused)
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(paused ? Ops.RunSandbox : Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1"));
        if (paused)
        {
            await h.CallAsync(Ops.PauseSandbox, TestSandboxes.Sandbox("sb1"));
        }

        await h.CallAsync(Ops.DeleteSandbox, TestSandboxes.Sandbox("sb1"));

        await h.AssertNothingLeftAsync("sb1");
        Assert.Contains("hypervisor.stopVM sb1", h.Calls.Of("sb1"));
    }

    [Fact]
    public async Task DeleteSandbox_of_a_running_sandbox_is_refused_with_Katas_message()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
        var before = await h.RequireRecordAsync("sb1");

        var ex = await h.CallFailsAsync(Ops.DeleteSandbox, TestSandboxes.Sandbox("sb1"));

        Assert.Equal(SandboxErrorKind.FailedPrecondition, ex.Kind);
        Assert.StartsWith("Sandbox not ready, paused or stopped, impossible to delete", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, await h.RequireRecordAsync("sb1"), SandboxRecordComparer.Instance);
        Assert.Equal(["sb1"], h.Hypervisor.RunningVms);
        Assert.True(h.Files.Exists("sb1"));
    }

    [Fact]
    public async Task PauseSandbox_pauses_the_VM_and_the_running_containers()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
        await h.CallAsync(Ops.CreateContainer, TestSandboxes.NewContainer("sb1", "c2"));

        var result = await h.CallAsync(Ops.PauseSandbox, TestSandboxes.Sandbox("sb1"));

        Assert.Equal(SandboxState.Paused, result.Sandbox!.State);
        Assert.Equal([("c1", SandboxState.Paused), ("c2", SandboxState.Ready)], result.Sandbox.Containers.Select(c => (c.Id, c.State)));
        Assert.True((await h.RequireRecordAsync("sb1")).Vm!.Paused);
        Assert.True(h.Hypervisor.TryGetVm("sb1", out var vm) && vm.Paused);
        Assert.Equal("paused", (await h.Files.ReadAsync("sb1", h.Token))!.State);
    }

    [Fact]
    public async Task ResumeSandbox_resumes_the_VM_and_the_paused_containers()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
        await h.CallAsync(Ops.PauseSandbox, TestSandboxes.Sandbox("sb1"));

        var result = await h.CallAsync(Ops.ResumeSandbox, TestSandboxes.Sandbox("sb1"));

        Assert.Equal(SandboxState.Running, result.Sandbox!.State);
        Assert.Equal(SandboxState.Running, Assert.Single(result.Sandbox.Containers).State);
        Assert.False((await h.RequireRecordAsync("sb1")).Vm!.Paused);
        Assert.True(h.Hypervisor.TryGetVm("sb1", out var vm) && !vm.Paused);
        Assert.Equal(["hypervisor.pauseVM sb1", "hypervisor.resumeVM sb1"], h.Calls.Of("sb1").Where(c => c.StartsWith("hypervisor.", StringComparison.Ordinal) && c.Contains("VM", StringComparison.Ordinal) && !c.Contains("start", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(Ops.PauseSandbox, false, "Invalid state ready (Expecting running)")]
    [InlineData(Ops.ResumeSandbox, false, "Invalid state ready (Expecting paused)")]
    [InlineData(Ops.PauseSandbox, true, "Invalid state paused (Expecting running)")]
    public async Task Pause_and_resume_check_the_state_with_Katas_message(string operation, bool pauseFirst, string message)
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(pauseFirst ? Ops.RunSandbox : Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1"));
        if (pauseFirst)
        {
            await h.CallAsync(Ops.PauseSandbox, TestSandboxes.Sandbox("sb1"));
        }

        var before = await h.RequireRecordAsync("sb1");

        var ex = await h.CallFailsAsync(operation, TestSandboxes.Sandbox("sb1"));

        Assert.Equal(SandboxErrorKind.FailedPrecondition, ex.Kind);
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, await h.RequireRecordAsync("sb1"), SandboxRecordComparer.Instance);
    }

    [Fact]
    public async Task ResumeSandbox_on_a_running_sandbox_is_refused()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1"));

        var ex = await h.CallFailsAsync(Ops.ResumeSandbox, TestSandboxes.Sandbox("sb1"));

        Assert.Equal(SandboxErrorKind.FailedPrecondition, ex.Kind);
        Assert.StartsWith("Invalid state running (Expecting paused)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pause_step_that_times_out_fails_the_call_and_leaves_the_record_as_it_was()
    {
        await using var h = await SandboxHarness.StartAsync(o => o.FaultRules.Add(new FaultRule { Step = SandboxActivities.PauseVm, Mode = FaultMode.Hang, Times = 1 }));
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
        var before = await h.RequireRecordAsync("sb1");

        var ex = await h.CallFailsAsync(Ops.PauseSandbox, TestSandboxes.Sandbox("sb1") with { StepTimeout = TimeSpan.FromSeconds(1) });

        Assert.Equal(SandboxErrorKind.Failed, ex.Kind);
        Assert.Contains("did not finish within", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, await h.RequireRecordAsync("sb1"), SandboxRecordComparer.Instance);
        Assert.Null((await h.UnlockedEntityAsync("sb1"))!.LockedBy);
    }

    [Fact]
    public async Task A_startVM_of_a_start_that_times_out_after_booting_the_VM_is_undone_too()
    {
        // The VM boots, then the step outlives the step timeout (a slow boot): the call gives up on it and must stop the
        // VM anyway, or the stopped sandbox's record would not know the VM that now runs (found by the chaos soak).
        var slow = new SlowStartVm();
        await using var h = await SandboxHarness.StartAsync(o => o.ConfigureServices = s =>
        {
            s.AddSingleton(slow);
            s.AddHypervisorDriver<SlowHypervisor>(MockHypervisor.TypeName);
        });
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
        await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));
        slow.Armed = true;

        var ex = await h.CallFailsAsync(Ops.StartSandbox, TestSandboxes.Sandbox("sb1") with { StepTimeout = TimeSpan.FromSeconds(1) });

        Assert.Contains($"{SandboxActivities.StartVm} did not finish within", ex.Message, StringComparison.Ordinal);
        Assert.True(slow.Booted.Task.IsCompleted, "the VM never booted");
        var record = await h.RequireRecordAsync("sb1");
        Assert.Equal((SandboxState.Stopped, null), (record.State, record.Vm));
        Assert.DoesNotContain("sb1", h.Hypervisor.RunningVms);
        Assert.Null((await h.UnlockedEntityAsync("sb1"))!.LockedBy);
    }

    [Fact]
    public async Task A_container_start_of_a_start_that_times_out_after_starting_the_container_is_undone_too()
    {
        await using var h = await SandboxHarness.StartAsync(o => o.Faults = $"{SandboxActivities.StartContainer}:hang:1:after:sandbox=sb1");
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1"));
        await h.CallAsync(Ops.CreateContainer, TestSandboxes.Sandbox("sb1") with { Container = TestSandboxes.Config("sb1", "c1").Containers[0] });
        await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));

        var ex = await h.CallFailsAsync(Ops.StartSandbox, TestSandboxes.Sandbox("sb1") with { StepTimeout = TimeSpan.FromSeconds(1) });

        Assert.Contains($"{SandboxActivities.StartContainer} did not finish within", ex.Message, StringComparison.Ordinal);
        var history = await h.HistoryAsync(ex.InstanceId!);
        Assert.Equal(
            [SandboxActivities.StopContainer, SandboxActivities.DeleteContainers, SandboxActivities.StopVm, SandboxActivities.RemoveNetwork],
            history.ScheduledAfter(history.FirstTimerFired()));
        var record = await h.RequireRecordAsync("sb1");
        Assert.Equal((SandboxState.Stopped, null), (record.State, record.Vm));
        Assert.DoesNotContain("sb1", h.Hypervisor.RunningVms);
        Assert.Empty(h.Agent.ContainersOf("sb1"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_pause_or_resume_that_times_out_after_its_work_is_undone_at_once_and_the_record_stays_true(bool resume)
    {
        // The VM is paused (or resumed), then the step outlives the step timeout: the call gives up and must put the VM
        // back, or the record would say running while the VM is paused (found by the chaos soak).
        var step = resume ? SandboxActivities.ResumeVm : SandboxActivities.PauseVm;
        await using var h = await SandboxHarness.StartAsync(o => o.Faults = $"{step}:hang:1:after:sandbox=sb1");
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
        if (resume)
        {
            await h.CallAsync(Ops.PauseSandbox, TestSandboxes.Sandbox("sb1"));
        }

        var ex = await h.CallFailsAsync(resume ? Ops.ResumeSandbox : Ops.PauseSandbox, TestSandboxes.Sandbox("sb1") with { StepTimeout = TimeSpan.FromSeconds(1) });

        Assert.Contains($"{step} did not finish within", ex.Message, StringComparison.Ordinal);
        var history = await h.HistoryAsync(ex.InstanceId!);
        Assert.Equal([resume ? SandboxActivities.PauseVm : SandboxActivities.ResumeVm], history.ScheduledAfter(history.FirstTimerFired()));
        var record = await h.RequireRecordAsync("sb1");
        Assert.Equal((resume ? SandboxState.Paused : SandboxState.Running, resume, null), (record.State, record.Vm!.Paused, record.CleanupReason));
        Assert.True(h.Hypervisor.TryGetVm("sb1", out var vm));
        Assert.Equal(resume, vm.Paused);
        Assert.Null((await h.UnlockedEntityAsync("sb1"))!.LockedBy);
    }

    [Fact]
    public async Task A_stop_whose_stopVM_times_out_after_stopping_the_VM_marks_the_record_and_a_second_stop_finishes_it()
    {
        // A stop cannot be undone: the record keeps the VM it cannot vouch for and says why the sandbox needs cleaning up.
        await using var h = await SandboxHarness.StartAsync(o => o.Faults = $"{SandboxActivities.StopVm}:hang:1:after:sandbox=sb1");
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));

        var ex = await h.CallFailsAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1") with { StepTimeout = TimeSpan.FromSeconds(1) });

        Assert.Contains($"{SandboxActivities.StopVm} did not finish within", ex.Message, StringComparison.Ordinal);
        var record = await h.RequireRecordAsync("sb1");
        Assert.NotNull(record.Vm);
        Assert.StartsWith($"StopSandbox: {SandboxActivities.StopVm} did not finish within", record.CleanupReason, StringComparison.Ordinal);
        Assert.DoesNotContain("sb1", h.Hypervisor.RunningVms);

        var stopped = await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));

        Assert.Equal(SandboxState.Stopped, stopped.Sandbox!.State);
        Assert.Null((await h.RequireRecordAsync("sb1")).Vm);
        await h.CallAsync(Ops.DeleteSandbox, TestSandboxes.Sandbox("sb1"));
        await h.AssertNothingLeftAsync("sb1");
    }

    /// <summary>Once armed, the next startVM boots the VM, then hangs until the worker stops.</summary>
    private sealed class SlowStartVm
    {
        public bool Armed { get; set; }

        public TaskCompletionSource Booted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task AfterBootAsync(CancellationToken cancellationToken)
        {
            if (Armed && Booted.TrySetResult())
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
        }
    }

    private sealed class SlowHypervisor(RecordingHypervisor inner, SlowStartVm slow) : IHypervisor
    {
        public async Task<VmState> StartVmAsync(string sandboxId, SandboxConfig config, NetworkState? network, CancellationToken cancellationToken)
        {
            var vm = await inner.StartVmAsync(sandboxId, config, network, cancellationToken);
            await slow.AfterBootAsync(cancellationToken);
            return vm;
        }

        public Task StopVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken) => inner.StopVmAsync(sandboxId, vm, cancellationToken);

        public Task PauseVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken) => inner.PauseVmAsync(sandboxId, vm, cancellationToken);

        public Task ResumeVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken) => inner.ResumeVmAsync(sandboxId, vm, cancellationToken);

        public Task CheckAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken) => inner.CheckAsync(sandboxId, vm, cancellationToken);

        public Task<DeviceRecord> AddDeviceAsync(string sandboxId, DeviceRecord device, int blockIndex, CancellationToken cancellationToken) =>
            inner.AddDeviceAsync(sandboxId, device, blockIndex, cancellationToken);

        public Task<InterfaceRecord> AddInterfaceAsync(string sandboxId, VmState? vm, InterfaceRecord iface, CancellationToken cancellationToken) =>
            inner.AddInterfaceAsync(sandboxId, vm, iface, cancellationToken);

        public Task RemoveInterfaceAsync(string sandboxId, VmState? vm, InterfaceRecord iface, CancellationToken cancellationToken) =>
            inner.RemoveInterfaceAsync(sandboxId, vm, iface, cancellationToken);
    }
}
