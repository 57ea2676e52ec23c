using KataWorkflows.Activities.Faults;
using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Tests.Harness;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

/// <summary>StatusSandbox, StatusContainer and ListSandbox: committed records, read without the lock.</summary>
public sealed class ReadTests
{
    [Fact]
    public async Task Status_reads_the_committed_record()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1") with
        {
            Config = TestSandboxes.Config("sb1", "c1") with { Annotations = new Dictionary<string, string> { ["io.katacontainers.pkg"] = "x" } },
        });

        var status = await h.Sandboxes.StatusAsync("sb1", h.Token);

        Assert.Equal(("sb1", SandboxState.Running, "mock", "noop"), (status.Id, status.State, status.Hypervisor, status.Agent));
        Assert.Equal("x", status.Annotations["io.katacontainers.pkg"]);
        var container = Assert.Single(status.Containers);
        Assert.Equal(("c1", SandboxState.Running, "/run/rootfs/c1"), (container.Id, container.State, container.RootFs));
        Assert.Null(status.PendingOperation);
    }

    [Fact]
    public async Task Status_of_an_unknown_or_malformed_sandbox_fails_with_its_kind()
    {
        await using var h = await SandboxHarness.StartAsync();

        var missing = await Assert.ThrowsAsync<SandboxCallException>(() => h.Sandboxes.StatusAsync("nope", h.Token));
        var empty = await Assert.ThrowsAsync<SandboxCallException>(() => h.Sandboxes.StatusAsync(string.Empty, h.Token));
        var bad = await Assert.ThrowsAsync<SandboxCallException>(() => h.Sandboxes.StatusAsync("../x", h.Token));

        Assert.Equal((SandboxErrorKind.NotFound, "Sandbox nope does not exist"), (missing.Kind, missing.Message));
        Assert.Equal((SandboxErrorKind.InvalidArgument, "Sandbox ID cannot be empty"), (empty.Kind, empty.Message));
        Assert.Equal(SandboxErrorKind.InvalidArgument, bad.Kind);
    }

    [Fact]
    public async Task StatusContainer_reads_one_container_and_refuses_unknown_ones()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1"));

        var status = await h.Sandboxes.StatusContainerAsync("sb1", "c1", h.Token);
        var unknown = await Assert.ThrowsAsync<SandboxCallException>(() => h.Sandboxes.StatusContainerAsync("sb1", "zz", h.Token));
        var empty = await Assert.ThrowsAsync<SandboxCallException>(() => h.Sandboxes.StatusContainerAsync("sb1", string.Empty, h.Token));
        var noSandbox = await Assert.ThrowsAsync<SandboxCallException>(() => h.Sandboxes.StatusContainerAsync("nope", "c1", h.Token));

        Assert.Equal(("c1", SandboxState.Ready), (status.Id, status.State));
        Assert.Equal((SandboxErrorKind.NotFound, "Container does not exist: zz"), (unknown.Kind, unknown.Message));
        Assert.Equal((SandboxErrorKind.InvalidArgument, "Container ID cannot be empty"), (empty.Kind, empty.Message));
        Assert.Equal(SandboxErrorKind.NotFound, noSandbox.Kind);
    }

    [Fact]
    public async Task StatsSandbox_needs_a_running_sandbox_when_it_has_containers_to_read()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create("sb-empty"));
        await h.CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox("sb-empty"));
        await h.ArrangeAsync("sb-paused", "c1", SandboxState.Paused, SandboxState.Paused);
        await h.ArrangeAsync("sb-running", "c1", SandboxState.Running, SandboxState.Stopped);

        var empty = await h.Sandboxes.StatsSandboxTargetAsync("sb-empty", h.Token);
        var running = await h.Sandboxes.StatsSandboxTargetAsync("sb-running", h.Token);
        var paused = await Assert.ThrowsAsync<SandboxCallException>(() => h.Sandboxes.StatsSandboxTargetAsync("sb-paused", h.Token));
        var missing = await Assert.ThrowsAsync<SandboxCallException>(() => h.Sandboxes.StatsSandboxTargetAsync("nope", h.Token));

        Assert.Equal(SandboxState.Stopped, empty.State);
        Assert.Equal("c1", Assert.Single(running.Containers).Id);
        Assert.Equal((SandboxErrorKind.FailedPrecondition, "Sandbox not running, impossible to stats the container (sandbox sb-paused is paused)"), (paused.Kind, paused.Message));
        Assert.Equal((SandboxErrorKind.NotFound, "Sandbox nope does not exist"), (missing.Kind, missing.Message));
    }

    [Fact]
    public async Task The_live_reads_check_ids_and_existence_before_state()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.ArrangeAsync("sb1", "c1", SandboxState.Stopped, SandboxState.Stopped);

        var empty = await Assert.ThrowsAsync<SandboxCallException>(() => h.Sandboxes.ProcessListTargetAsync("sb1", string.Empty, h.Token));
        var unknown = await Assert.ThrowsAsync<SandboxCallException>(() => h.Sandboxes.ProcessListTargetAsync("sb1", "zz", h.Token));
        var noSandbox = await Assert.ThrowsAsync<SandboxCallException>(() => h.Sandboxes.StatsContainerTargetAsync("nope", "c1", h.Token));

        Assert.Equal((SandboxErrorKind.InvalidArgument, "Container ID cannot be empty"), (empty.Kind, empty.Message));
        Assert.Equal((SandboxErrorKind.NotFound, "Container does not exist: zz"), (unknown.Kind, unknown.Message));
        Assert.Equal((SandboxErrorKind.NotFound, "Sandbox nope does not exist"), (noSandbox.Kind, noSandbox.Message));
    }

    [Fact]
    public async Task List_returns_every_sandbox_and_not_deleted_ones()
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create("sb-a"));
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb-b", "c1"));
        await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create("sb-c"));
        await h.CallAsync(Ops.DeleteSandbox, TestSandboxes.Sandbox("sb-c"));

        var list = await h.Sandboxes.ListAsync(h.Token);

        Assert.Equal([("sb-a", SandboxState.Ready), ("sb-b", SandboxState.Running)], list.Select(s => (s.Id, s.State)).OrderBy(s => s.Id));
    }

    [Fact]
    public async Task Reads_do_not_wait_for_a_call_that_holds_the_lock()
    {
        await using var h = await SandboxHarness.StartAsync(o => o.FaultRules.Add(new FaultRule { Step = SandboxActivities.PauseVm, Mode = FaultMode.Hang, Times = 1 }));
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));

        var pause = await h.Sandboxes.StartAsync(Ops.PauseSandbox, TestSandboxes.Sandbox("sb1") with { StepTimeout = TimeSpan.FromSeconds(30) }, "p1", h.Token);
        await h.Log.WaitForStartAsync(SandboxActivities.PauseVm, h.Token);

        Assert.Equal(pause, (await h.EntityAsync("sb1"))!.LockedBy);
        Assert.Equal(SandboxState.Running, (await h.Sandboxes.StatusAsync("sb1", h.Token)).State);
        Assert.Equal(SandboxState.Running, (await h.Sandboxes.StatusContainerAsync("sb1", "c1", h.Token)).State);
        Assert.Single(await h.Sandboxes.ListAsync(h.Token));
    }
}
