using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Storage.Tests;

/// <summary>
/// A client's start made while a dispatcher waits for orchestration work is written by the first episode's checkpoint,
/// not by a commit of its own; the call returns once that checkpoint committed.
/// </summary>
public abstract partial class OrchestrationStoreConformance
{
    /// <summary>A dispatcher's wait for orchestration work that sleeps (the first waits only consume earlier wake-ups).</summary>
    private static Task SleepingDispatcher(IOrchestrationStore store, CancellationToken cancellationToken) =>
        SleepingDispatcherOf(store, WorkItemKind.Orchestration, cancellationToken);

    /// <summary>A dispatcher's wait for work of a kind that sleeps (the first waits only consume earlier wake-ups).</summary>
    private static Task SleepingDispatcherOf(IOrchestrationStore store, WorkItemKind kind, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 10; i++)
        {
            var wait = store.WaitForWorkAsync(kind, TimeSpan.FromMinutes(5), cancellationToken);
            if (!wait.IsCompleted)
            {
                return wait;
            }
        }

        throw new InvalidOperationException($"The store keeps waking its {kind} dispatcher with no work to give.");
    }

    [Fact]
    public async Task A_start_made_while_a_dispatcher_waits_is_written_with_the_first_checkpoint()
    {
        var (store, location) = await NewStoreAsync();
        using var timeout = Timeout();
        var dispatcher = SleepingDispatcher(store, timeout.Token);

        var start = store.CreateInstanceAsync(Instance("riding", replaceTerminal: true), Ct);
        await dispatcher.WaitAsync(timeout.Token);

        // Nothing is written yet: a reader (a client joining the same start) waits for the first checkpoint.
        Assert.False(start.IsCompleted);
        var read = store.GetInstanceAsync("riding", includePayloads: false, Ct);
        Assert.Empty((await store.QueryInstancesAsync(new OrchestrationQuery(), Ct)).Instances);
        var workItem = await LockAsync(store, "riding");
        Assert.Equal([HistoryEvent.EventTypeOneofCase.ExecutionStarted], Kinds(workItem.NewMessages));
        Assert.False(start.IsCompleted);
        Assert.False(read.IsCompleted);

        await RunEpisodeAsync(store, workItem, Actions.ScheduleTask(0, "Charge", "1"));
        await start.WaitAsync(timeout.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await read.WaitAsync(timeout.Token))?.Status);

        Assert.Equal(OrchestrationRuntimeStatus.Running, (await GetAsync(store, "riding")).Status);
        store = await RestartAsync(store, location);
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await GetAsync(store, "riding")).Status);
        var history = await store.GetHistoryAsync("riding", null, Ct);
        Assert.Equal(HistoryEvent.EventTypeOneofCase.ExecutionStarted, history[1].EventTypeCase);
        Assert.Equal("Charge", (await store.TryLockActivityAsync(Lease, Ct))?.Request.Name);

        // The start message was never written, so there is nothing left to deliver.
        await AssertNoOrchestrationWorkAsync(store);
    }

    [Fact]
    public async Task A_start_riding_on_a_first_checkpoint_replaces_a_terminal_instance_in_that_checkpoint()
    {
        var (store, location) = await NewStoreAsync();
        using var timeout = Timeout();
        await CreateCompletedAsync(store, "again", output: "\"first\"");

        var dispatcher = SleepingDispatcher(store, timeout.Token);
        var start = store.CreateInstanceAsync(Instance("again", replaceTerminal: true), Ct);
        await dispatcher.WaitAsync(timeout.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, Assert.Single((await store.QueryInstancesAsync(new OrchestrationQuery(), Ct)).Instances).Status);
        var read = store.GetInstanceAsync("again", includePayloads: false, Ct);
        await RunEpisodeAsync(store, await LockAsync(store, "again"));
        await start.WaitAsync(timeout.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await read.WaitAsync(timeout.Token))?.Status);

        store = await RestartAsync(store, location);
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await GetAsync(store, "again")).Status);
        Assert.Equal(2, (await store.GetHistoryAsync("again", null, Ct)).Count(e => e.OrchestratorStarted is not null || e.ExecutionStarted is not null));
    }

    [Fact]
    public async Task A_start_whose_first_checkpoint_fails_fails_the_call_and_leaves_no_instance()
    {
        var (store, location) = await NewFaultableStoreAsync();
        using var timeout = Timeout();
        var dispatcher = SleepingDispatcher(store, timeout.Token);
        var start = store.CreateInstanceAsync(Instance("doomed"), Ct);
        await dispatcher.WaitAsync(timeout.Token);
        var workItem = await LockAsync(store, "doomed");
        location.Faults.Fail = b => b.UpsertInstances.Any(i => i.InstanceId == "doomed") ? new IOException("disk full") : null;

        var read = store.GetInstanceAsync("doomed", includePayloads: false, Ct);
        await Assert.ThrowsAsync<IOException>(() => store.CompleteOrchestrationAsync(workItem, Episode(workItem), Ct));
        Assert.Null(await read.WaitAsync(timeout.Token));
        var error = await Assert.ThrowsAsync<IOException>(() => start.WaitAsync(timeout.Token));
        Assert.Equal("disk full", error.Message);
        location.Faults.Fail = null;

        Assert.Null(await store.GetInstanceAsync("doomed", includePayloads: false, Ct));
        await AssertNoOrchestrationWorkAsync(store);

        // The id is free again: a retry of the start works.
        await CreateAsync(store, "doomed");
        Assert.Equal(OrchestrationRuntimeStatus.Pending, (await GetAsync(store, "doomed")).Status);
    }

    [Fact]
    public async Task A_start_without_a_waiting_dispatcher_or_for_later_is_written_on_its_own()
    {
        var (store, _) = await NewStoreAsync();
        using var timeout = Timeout();

        await CreateAsync(store, "alone");
        Assert.Equal(OrchestrationRuntimeStatus.Pending, (await GetAsync(store, "alone")).Status);

        var dispatcher = SleepingDispatcher(store, timeout.Token);
        await store.CreateInstanceAsync(Instance("later", startAt: Now.AddHours(1)), Ct).WaitAsync(timeout.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Pending, (await GetAsync(store, "later")).Status);
    }
}
