using KataWorkflows.Activities.Faults;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Tests.Harness;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

/// <summary>Calls that a host restart interrupts finish on the next host, from the SQLite store.</summary>
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
        await h.Log.WaitForStartAsync(SandboxActivities.StartVm, h.Token);

        await h.RestartAsync();
        var result = await h.Sandboxes.WaitAsync(id, h.Token);

        Assert.Equal(SandboxState.Running, result.Sandbox!.State);
        Assert.Equal(["sb1"], h.Hypervisor.RunningVms);
        Assert.Equal(["c1"], h.Agent.ContainersOf("sb1"));
        Assert.Equal(point == FaultPoint.Before ? 1 : 2, h.Calls.Of("sb1", "hypervisor.startVM").Count);
        var history = await h.HistoryAsync(id);
        Assert.Single(history.Scheduled(), n => n == SandboxActivities.StartVm);
        var record = await h.RequireRecordAsync("sb1");
        Assert.Null(record.PendingOperation);
        Assert.Equal(h.Hypervisor.TryGetVm("sb1", out var vm) ? vm.Uuid : null, record.Vm!.Uuid);
        Assert.Null((await h.UnlockedEntityAsync("sb1"))!.LockedBy);
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
        await h.Log.WaitForStartAsync(SandboxActivities.StopVm, h.Token);
        Assert.Equal(id, (await h.RequireRecordAsync("sb1")).PendingOperation);

        await h.RestartAsync();
        var ex = await Assert.ThrowsAsync<Client.SandboxCallException>(() => h.Sandboxes.WaitAsync(id, h.Token));

        Assert.Equal(Client.SandboxErrorKind.Compensated, ex.Kind);
        await h.AssertNothingLeftAsync("sb1");
    }
}
