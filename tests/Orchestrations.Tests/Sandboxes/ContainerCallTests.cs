using KataWorkflows.Activities.Faults;
using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Tests.Harness;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

/// <summary>The container calls: create, start, stop, delete, kill, update, pause, resume, enter.</summary>
public sealed class ContainerCallTests
{
    private static async Task<SandboxHarness> RunningAsync(params string[] containers)
    {
        var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", containers));
        return h;
    }

    private static async Task AssertRefusedAsync(SandboxHarness h, string operation, Orchestrations.Sandboxes.SandboxRequest request, SandboxErrorKind kind, string message)
    {
        var before = await h.RequireRecordAsync("sb1");
        var calls = h.Calls.All.Count;

        var ex = await h.CallFailsAsync(operation, request);

        Assert.Equal(kind, ex.Kind);
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, await h.RequireRecordAsync("sb1"), SandboxRecordComparer.Instance);
        Assert.Equal(calls, h.Calls.All.Count);
    }

    [Fact]
    public async Task CreateContainer_adds_a_ready_container_to_the_guest_the_record_and_the_run_directory()
    {
        await using var h = await RunningAsync("c1");

        var result = await h.CallAsync(Ops.CreateContainer, TestSandboxes.NewContainer("sb1", "c2"));

        Assert.Equal([("c1", SandboxState.Running), ("c2", SandboxState.Ready)], result.Sandbox!.Containers.Select(c => (c.Id, c.State)));
        var record = await h.RequireRecordAsync("sb1");
        Assert.Equal(["c1", "c2"], record.Config.Containers.Select(c => c.Id));
        Assert.Equal(["c1", "c2"], h.Agent.ContainersOf("sb1"));
        Assert.Equal("ready", (await h.Files.ReadContainerAsync("sb1", "c2", h.Token))!.State);
    }

    [Fact]
    public async Task CreateContainer_in_a_ready_sandbox_is_allowed()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1"));

        var result = await h.CallAsync(Ops.CreateContainer, TestSandboxes.NewContainer("sb1", "c1"));

        Assert.Equal(SandboxState.Ready, Assert.Single(result.Sandbox!.Containers).State);
        Assert.Equal(["c1"], h.Agent.ContainersOf("sb1"));
    }

    [Fact]
    public async Task CreateContainer_with_an_id_in_use_is_Katas_Duplicated_container()
    {
        await using var h = await RunningAsync("c1");

        await AssertRefusedAsync(h, Ops.CreateContainer, TestSandboxes.NewContainer("sb1", "c1"), SandboxErrorKind.AlreadyExists, "Duplicated container: c1");
    }

    [Fact]
    public async Task CreateContainer_in_a_stopped_sandbox_is_refused()
    {
        await using var h = await RunningAsync();
        await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));

        await AssertRefusedAsync(
            h, Ops.CreateContainer, TestSandboxes.NewContainer("sb1", "c2"), SandboxErrorKind.FailedPrecondition, "Sandbox not ready or running, impossible to create a container");
    }

    [Fact]
    public async Task CreateContainer_that_cannot_be_stored_is_undone_in_the_guest()
    {
        await using var h = await RunningAsync("c1");
        var before = await h.RequireRecordAsync("sb1");
        h.Calls.Fail("store.write sb1");

        var ex = await h.CallFailsAsync(Ops.CreateContainer, TestSandboxes.NewContainer("sb1", "c2"));

        Assert.Equal(SandboxErrorKind.Compensated, ex.Kind);
        Assert.StartsWith("CreateContainer of sandbox sb1 failed at sandbox.storeSandbox", ex.Message, StringComparison.Ordinal);
        var history = await h.HistoryAsync(ex.InstanceId!);
        Assert.Equal([SandboxActivities.DeleteContainers], history.ScheduledAfter(history.FailureOf(SandboxActivities.StoreSandbox)));
        Assert.Equal(["c1"], h.Agent.ContainersOf("sb1"));
        var after = await h.RequireRecordAsync("sb1");
        Assert.Equal(SandboxRecordComparer.Content(before), SandboxRecordComparer.Content(after));
        Assert.Equal(ex.InstanceId, after.Operations[^1]);
        Assert.Null(await h.Files.ReadContainerAsync("sb1", "c2", h.Token));
    }

    [Fact]
    public async Task StartContainer_starts_a_ready_container_of_a_running_sandbox()
    {
        await using var h = await RunningAsync("c1");
        await h.CallAsync(Ops.CreateContainer, TestSandboxes.NewContainer("sb1", "c2"));

        var result = await h.CallAsync(Ops.StartContainer, TestSandboxes.Container("sb1", "c2"));

        Assert.Equal(SandboxState.Running, result.Sandbox!.Containers.Single(c => c.Id == "c2").State);
        Assert.Equal("agent.startContainer sb1 c2", h.Calls.Of("sb1", "agent.startContainer")[^1]);
        Assert.Equal("running", (await h.Files.ReadContainerAsync("sb1", "c2", h.Token))!.State);
    }

    [Fact]
    public async Task StartContainer_when_the_sandbox_is_not_running_is_refused()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1"));

        await AssertRefusedAsync(h, Ops.StartContainer, TestSandboxes.Container("sb1", "c1"), SandboxErrorKind.FailedPrecondition, "Sandbox not running, impossible to start the container");
    }

    [Fact]
    public async Task StartContainer_of_a_running_container_is_refused()
    {
        await using var h = await RunningAsync("c1");

        await AssertRefusedAsync(h, Ops.StartContainer, TestSandboxes.Container("sb1", "c1"), SandboxErrorKind.FailedPrecondition, "Container not ready or stopped, impossible to start");
    }

    [Fact]
    public async Task StartContainer_of_a_stopped_container_creates_it_in_the_guest_again_then_starts_it()
    {
        await using var h = await RunningAsync("c1");
        await h.CallAsync(Ops.StopContainer, TestSandboxes.Container("sb1", "c1"));
        Assert.Empty(h.Agent.ContainersOf("sb1"));
        var calls = h.Calls.All.Count;

        var result = await h.CallAsync(Ops.StartContainer, TestSandboxes.Container("sb1", "c1"));

        Assert.Equal(SandboxState.Running, Assert.Single(result.Sandbox!.Containers).State);
        Assert.Equal(["c1"], h.Agent.ContainersOf("sb1"));
        Assert.Equal(["agent.createContainer sb1 c1", "agent.startContainer sb1 c1", "store.write sb1 running"], h.Calls.All.Skip(calls));
        Assert.Equal("running", (await h.Files.ReadContainerAsync("sb1", "c1", h.Token))!.State);
    }

    [Fact]
    public async Task A_container_that_fails_to_start_is_stopped_again()
    {
        await using var h = await RunningAsync();
        await h.CallAsync(Ops.CreateContainer, TestSandboxes.NewContainer("sb1", "c1"));
        h.Calls.Fail("agent.startContainer sb1 c1", times: 1);

        var ex = await h.CallFailsAsync(Ops.StartContainer, TestSandboxes.Container("sb1", "c1"));

        Assert.Equal(SandboxErrorKind.Failed, ex.Kind);
        Assert.Equal(SandboxState.Stopped, (await h.RequireRecordAsync("sb1")).FindContainer("c1")!.State);
        Assert.Empty(h.Agent.ContainersOf("sb1"));
    }

    [Fact]
    public async Task StopContainer_kills_and_removes_it_in_the_guest()
    {
        await using var h = await RunningAsync("c1");

        var result = await h.CallAsync(Ops.StopContainer, TestSandboxes.Container("sb1", "c1"));

        Assert.Equal(SandboxState.Stopped, Assert.Single(result.Sandbox!.Containers).State);
        Assert.Equal(SandboxState.Running, result.Sandbox.State);
        Assert.Empty(h.Agent.ContainersOf("sb1"));
        Assert.Equal(["agent.signalProcess sb1 c1 9 all=True", "agent.removeContainer sb1 c1", "store.write sb1 running"], h.Calls.Of("sb1").TakeLast(3));
        Assert.Equal("stopped", (await h.Files.ReadContainerAsync("sb1", "c1", h.Token))!.State);
    }

    [Fact]
    public async Task StopContainer_of_a_stopped_container_does_nothing()
    {
        await using var h = await RunningAsync("c1");
        await h.CallAsync(Ops.StopContainer, TestSandboxes.Container("sb1", "c1"));
        var calls = h.Calls.All.Count;

        var result = await h.CallAsync(Ops.StopContainer, TestSandboxes.Container("sb1", "c1"));

        Assert.Equal(SandboxState.Stopped, Assert.Single(result.Sandbox!.Containers).State);
        Assert.Equal("Container c1 is already stopped: nothing to do", result.Note);
        Assert.Equal(calls, h.Calls.All.Count);
    }

    [Fact]
    public async Task StopContainer_with_force_skips_a_failing_agent()
    {
        await using var h = await RunningAsync("c1");
        h.Calls.Fail("agent.removeContainer sb1 c1");

        var refused = await h.CallFailsAsync(Ops.StopContainer, TestSandboxes.Container("sb1", "c1"));
        var result = await h.CallAsync(Ops.StopContainer, TestSandboxes.Container("sb1", "c1", force: true));

        Assert.Equal(SandboxErrorKind.Failed, refused.Kind);
        Assert.Equal(SandboxState.Stopped, Assert.Single(result.Sandbox!.Containers).State);
    }

    [Fact]
    public async Task DeleteContainer_removes_a_stopped_container_from_the_record_and_the_run_directory()
    {
        await using var h = await RunningAsync("c1", "c2");
        await h.CallAsync(Ops.StopContainer, TestSandboxes.Container("sb1", "c1"));

        var result = await h.CallAsync(Ops.DeleteContainer, TestSandboxes.Container("sb1", "c1"));

        Assert.Equal(["c2"], result.Sandbox!.Containers.Select(c => c.Id));
        var record = await h.RequireRecordAsync("sb1");
        Assert.Equal(["c2"], record.Config.Containers.Select(c => c.Id));
        Assert.Null(await h.Files.ReadContainerAsync("sb1", "c1", h.Token));
        Assert.False(Directory.Exists(h.Files.ContainerDirectory("sb1", "c1")));
        Assert.Equal(["c2"], h.Agent.ContainersOf("sb1"));
    }

    [Fact]
    public async Task DeleteContainer_of_a_ready_container_removes_it_from_the_record_and_the_guest()
    {
        await using var h = await RunningAsync();
        await h.CallAsync(Ops.CreateContainer, TestSandboxes.NewContainer("sb1", "c1"));

        var result = await h.CallAsync(Ops.DeleteContainer, TestSandboxes.Container("sb1", "c1"));

        Assert.Empty(result.Sandbox!.Containers);
        Assert.False(Directory.Exists(h.Files.ContainerDirectory("sb1", "c1")));

        // A created container is in the guest until it is removed there; the record no longer knows it (the chaos soak).
        Assert.Empty(h.Agent.ContainersOf("sb1"));
    }

    [Fact]
    public async Task DeleteContainer_of_a_running_container_is_Katas_impossible_to_delete()
    {
        await using var h = await RunningAsync("c1");

        await AssertRefusedAsync(h, Ops.DeleteContainer, TestSandboxes.Container("sb1", "c1"), SandboxErrorKind.FailedPrecondition, "Container not ready or stopped, impossible to delete");
        Assert.Equal(["c1"], h.Agent.ContainersOf("sb1"));
    }

    [Fact]
    public async Task KillContainer_signals_the_container_and_changes_no_state()
    {
        await using var h = await RunningAsync("c1");
        var before = await h.RequireRecordAsync("sb1");

        var result = await h.CallAsync(Ops.KillContainer, TestSandboxes.Container("sb1", "c1") with { Signal = 15, All = true });

        Assert.Equal(SandboxState.Running, Assert.Single(result.Sandbox!.Containers).State);
        Assert.Equal("agent.signalProcess sb1 c1 15 all=True", h.Calls.Of("sb1")[^1]);
        Assert.Equal(before, await h.RequireRecordAsync("sb1"), SandboxRecordComparer.Instance);
    }

    [Fact]
    public async Task KillContainer_with_SIGKILL_succeeds_whatever_the_agent_says_and_other_signals_do_not()
    {
        await using var h = await RunningAsync("c1");
        h.Calls.Fail("agent.signalProcess sb1 c1");

        var killed = await h.CallAsync(Ops.KillContainer, TestSandboxes.Container("sb1", "c1") with { Signal = 9 });
        var ex = await h.CallFailsAsync(Ops.KillContainer, TestSandboxes.Container("sb1", "c1") with { Signal = 15 });

        Assert.StartsWith("SIGKILL to container c1 failed and is ignored, as in Kata: ", killed.Note, StringComparison.Ordinal);
        Assert.Contains("armed driver failure", killed.Note, StringComparison.Ordinal);
        Assert.Equal(SandboxErrorKind.Failed, ex.Kind);
        Assert.Contains("armed driver failure", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KillContainer_with_SIGKILL_succeeds_when_the_agent_does_not_answer_in_time()
    {
        await using var h = await SandboxHarness.StartAsync(o => o.FaultRules.Add(new FaultRule { Step = SandboxActivities.KillContainer, Mode = FaultMode.Hang, Times = 1 }));
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));

        var killed = await h.CallAsync(Ops.KillContainer, TestSandboxes.Container("sb1", "c1") with { Signal = 9, StepTimeout = TimeSpan.FromSeconds(1) });

        Assert.Equal("SIGKILL to container c1 failed and is ignored, as in Kata: container.kill did not finish within 00:00:01", killed.Note);
        Assert.Equal(SandboxState.Running, Assert.Single(killed.Sandbox!.Containers).State);
        Assert.Null((await h.UnlockedEntityAsync("sb1"))!.LockedBy);
    }

    [Fact]
    public async Task KillContainer_with_SIGKILL_of_an_unknown_container_is_still_NotFound()
    {
        await using var h = await RunningAsync("c1");

        // Kata's KillContainer returns findContainer's error before it signals anything.
        await AssertRefusedAsync(h, Ops.KillContainer, TestSandboxes.Container("sb1", "zz") with { Signal = 9 }, SandboxErrorKind.NotFound, "Container does not exist: zz");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65)]
    public async Task KillContainer_with_a_signal_out_of_range_is_InvalidArgument(int signal)
    {
        await using var h = await RunningAsync("c1");

        await AssertRefusedAsync(h, Ops.KillContainer, TestSandboxes.Container("sb1", "c1") with { Signal = signal }, SandboxErrorKind.InvalidArgument, "signal must be between 1 and 64");
    }

    [Fact]
    public async Task KillContainer_of_a_stopped_container_or_sandbox_is_refused_but_a_SIGKILL_is_a_noted_no_op()
    {
        await using var h = await RunningAsync("c1", "c2");
        await h.CallAsync(Ops.StopContainer, TestSandboxes.Container("sb1", "c1"));

        await AssertRefusedAsync(
            h, Ops.KillContainer, TestSandboxes.Container("sb1", "c1") with { Signal = 15 }, SandboxErrorKind.FailedPrecondition,
            "Container not ready, running or paused, impossible to signal the container");
        var stoppedContainer = await h.CallAsync(Ops.KillContainer, TestSandboxes.Container("sb1", "c1") with { Signal = 9 });
        await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb1"));
        await AssertRefusedAsync(
            h, Ops.KillContainer, TestSandboxes.Container("sb1", "c2") with { Signal = 15 }, SandboxErrorKind.FailedPrecondition,
            "Sandbox not ready or running, impossible to signal the container");
        var calls = h.Calls.All.Count;
        var stoppedSandbox = await h.CallAsync(Ops.KillContainer, TestSandboxes.Container("sb1", "c2") with { Signal = 9, All = true });

        Assert.Equal("SIGKILL not sent: Container not ready, running or paused, impossible to signal the container (container c1 is stopped)", stoppedContainer.Note);
        Assert.Equal("SIGKILL not sent: Sandbox not ready or running, impossible to signal the container (sandbox sb1 is stopped)", stoppedSandbox.Note);
        Assert.Equal(calls, h.Calls.All.Count);
        Assert.Equal(SandboxState.Stopped, stoppedSandbox.Sandbox!.State);
    }

    [Fact]
    public async Task UpdateContainer_merges_the_new_limits_into_the_old_ones()
    {
        await using var h = await RunningAsync("c1");

        await h.CallAsync(Ops.UpdateContainer, TestSandboxes.Container("sb1", "c1") with { Resources = new ContainerResources { CpuPeriod = 100_000, CpuQuota = 50_000 } });
        await h.CallAsync(Ops.UpdateContainer, TestSandboxes.Container("sb1", "c1") with { Resources = new ContainerResources { MemoryLimitBytes = 256L << 20 } });

        var resources = (await h.RequireRecordAsync("sb1")).FindContainer("c1")!.Config.Resources;
        Assert.Equal(new ContainerResources { CpuPeriod = 100_000, CpuQuota = 50_000, MemoryLimitBytes = 256L << 20 }, resources);
        Assert.Equal(
            ["agent.updateContainer sb1 c1 period=100000 quota=50000 memory=", $"agent.updateContainer sb1 c1 period=100000 quota=50000 memory={256L << 20}"],
            h.Calls.Of("sb1", "agent.updateContainer"));
        Assert.Equal(256L << 20, (await h.Files.ReadContainerAsync("sb1", "c1", h.Token))!.Config.Resources!.MemoryLimitBytes);
    }

    [Fact]
    public async Task UpdateContainer_refuses_bad_limits_and_a_sandbox_that_is_not_running()
    {
        await using var h = await RunningAsync("c1");

        await AssertRefusedAsync(
            h, Ops.UpdateContainer, TestSandboxes.Container("sb1", "c1") with { Resources = new ContainerResources { CpuPeriod = 10 } }, SandboxErrorKind.InvalidArgument,
            "resources.cpuPeriod must be between");
        await AssertRefusedAsync(h, Ops.UpdateContainer, TestSandboxes.Container("sb1", "c1"), SandboxErrorKind.InvalidArgument, "resources are required");
        await h.CallAsync(Ops.PauseSandbox, TestSandboxes.Sandbox("sb1"));
        await AssertRefusedAsync(
            h, Ops.UpdateContainer, TestSandboxes.Container("sb1", "c1") with { Resources = new ContainerResources { CpuQuota = 2000 } }, SandboxErrorKind.FailedPrecondition,
            "Sandbox not running, impossible to update the container");
    }

    [Fact]
    public async Task PauseContainer_and_ResumeContainer_freeze_and_thaw_a_running_container()
    {
        await using var h = await RunningAsync("c1");

        var paused = await h.CallAsync(Ops.PauseContainer, TestSandboxes.Container("sb1", "c1"));
        var resumed = await h.CallAsync(Ops.ResumeContainer, TestSandboxes.Container("sb1", "c1"));

        Assert.Equal(SandboxState.Paused, Assert.Single(paused.Sandbox!.Containers).State);
        Assert.Equal(SandboxState.Running, Assert.Single(resumed.Sandbox!.Containers).State);
        Assert.Equal(["agent.pauseContainer sb1 c1", "agent.resumeContainer sb1 c1"], h.Calls.Of("sb1").Where(c => c.Contains("Container sb1 c1", StringComparison.Ordinal) && (c.Contains("pause", StringComparison.Ordinal) || c.Contains("resume", StringComparison.Ordinal))));
        Assert.Equal("running", (await h.Files.ReadContainerAsync("sb1", "c1", h.Token))!.State);
    }

    [Fact]
    public async Task PauseContainer_and_ResumeContainer_check_the_container_state()
    {
        await using var h = await RunningAsync("c1");
        await h.CallAsync(Ops.CreateContainer, TestSandboxes.NewContainer("sb1", "c2"));

        await AssertRefusedAsync(h, Ops.PauseContainer, TestSandboxes.Container("sb1", "c2"), SandboxErrorKind.FailedPrecondition, "Container not running, impossible to pause");
        await AssertRefusedAsync(h, Ops.ResumeContainer, TestSandboxes.Container("sb1", "c1"), SandboxErrorKind.FailedPrecondition, "Container not paused, impossible to resume");
        await h.CallAsync(Ops.PauseSandbox, TestSandboxes.Sandbox("sb1"));
        await AssertRefusedAsync(h, Ops.ResumeContainer, TestSandboxes.Container("sb1", "c1"), SandboxErrorKind.FailedPrecondition, "Sandbox not running, impossible to resume the container");
    }

    [Fact]
    public async Task EnterContainer_runs_a_process_in_the_container()
    {
        await using var h = await RunningAsync("c1");

        var result = await h.CallAsync(Ops.EnterContainer, TestSandboxes.Container("sb1", "c1") with { Cmd = new Cmd { Args = ["/bin/ls", "-l"] } });

        Assert.NotNull(result.Process);
        Assert.Equal(0, result.Process.Pid);
        Assert.Equal("agent.execProcess sb1 c1 /bin/ls -l", h.Calls.Of("sb1")[^1]);
    }

    [Fact]
    public async Task EnterContainer_refuses_no_command_and_a_sandbox_that_is_not_running()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1"));

        await AssertRefusedAsync(h, Ops.EnterContainer, TestSandboxes.Container("sb1", "c1"), SandboxErrorKind.InvalidArgument, "cmd.args must name the program to run");
        await AssertRefusedAsync(
            h, Ops.EnterContainer, TestSandboxes.Container("sb1", "c1") with { Cmd = new Cmd { Args = ["/bin/sh"] } }, SandboxErrorKind.FailedPrecondition,
            "Sandbox not running, impossible to enter the container");
    }
}
