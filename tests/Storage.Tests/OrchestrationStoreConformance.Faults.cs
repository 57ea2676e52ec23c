using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Storage.Tests;

/// <summary>
/// Commits that fail or take their time. These cases need a store that commits through a
/// <see cref="FaultInjectingStoreBackend"/> (see <see cref="CreateStoreOver"/>); other stores skip them.
/// </summary>
public abstract partial class OrchestrationStoreConformance
{
    private async Task<(IOrchestrationStore Store, StoreLocation Location)> NewFaultableStoreAsync()
    {
        var (store, location) = await NewStoreAsync();
        Assert.SkipUnless(location.Faults.IsAttached, "This store does not commit through a FaultInjectingStoreBackend.");
        return (store, location);
    }

    private static async Task<Exception?> OutcomeAsync(Task task)
    {
        try
        {
            await task;
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    /// <summary>An episode that touches everything: an activity, a timer, an event to "target", a child "p-child" and a signal.</summary>
    private OrchestrationCheckpoint BusyEpisode(OrchestrationWorkItem workItem) =>
        Episode(
            workItem,
            Actions.ScheduleTask(0, "Charge", "1"),
            Actions.CreateTimer(1, Now.AddMinutes(1)),
            Actions.SendEvent(2, "target", "Ping", null),
            Actions.CreateSubOrchestration(3, "p-child", "Child", null),
            Actions.SignalEntity(4, Counter.ToString(), "poke"));

    [Fact]
    public async Task Callers_waiting_for_a_child_whose_creating_commit_fails_go_on_and_find_no_instance()
    {
        var (store, location) = await NewFaultableStoreAsync();
        using var timeout = Timeout();
        await CreateAsync(store, "p");
        var workItem = await LockAsync(store, "p");
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        location.Faults.Hold = async b =>
        {
            if (b.UpsertInstances.Any(i => i.InstanceId == "p-child"))
            {
                held.TrySetResult();
                await release.Task;
            }
        };
        location.Faults.Fail = b => b.UpsertInstances.Any(i => i.InstanceId == "p-child") ? new IOException("disk full") : null;

        var commit = store.CompleteOrchestrationAsync(workItem, BusyEpisode(workItem), Ct);
        await held.Task.WaitAsync(timeout.Token);

        // The child's id is reserved while its creating commit is in flight: a reader and a sender wait for it.
        var read = store.GetInstanceAsync("p-child", includePayloads: false, Ct);
        var send = store.SendMessageAsync("p-child", Messages.Event("early"), Ct);
        Assert.False(read.IsCompleted);
        Assert.False(send.IsCompleted);

        release.SetResult();
        await Assert.ThrowsAsync<IOException>(() => commit);
        Assert.Null(await read.WaitAsync(timeout.Token));
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => send.WaitAsync(timeout.Token));
    }

    [Fact]
    public async Task A_failed_checkpoint_commit_changes_nothing_and_the_work_item_is_offered_again()
    {
        var (store, location) = await NewFaultableStoreAsync();
        await CreateRunningAsync(store, "target");
        await CreateAsync(store, "p");
        var workItem = await LockAsync(store, "p");
        var checkpoint = BusyEpisode(workItem);
        location.Faults.Fail = b => b.UpsertInstances.Any(i => i.InstanceId == "p") ? new IOException("disk full") : null;

        await Assert.ThrowsAsync<IOException>(() => store.CompleteOrchestrationAsync(workItem, checkpoint, Ct));
        location.Faults.Fail = null;

        Assert.Equal(OrchestrationRuntimeStatus.Pending, (await GetAsync(store, "p")).Status);
        Assert.Empty(await store.GetHistoryAsync("p", null, Ct));
        Assert.Null(await store.GetInstanceAsync("p-child", includePayloads: false, Ct));
        Assert.Null(await store.GetEntityAsync(Counter, includeState: true, Ct));
        await AssertNoActivityWorkAsync(store);
        await AssertNoEntityWorkAsync(store);
        var again = await LockAsync(store, "p");
        Assert.Equal(workItem.NewMessages, again.NewMessages);
        Assert.Empty(again.PastEvents);
        await AssertNoOrchestrationWorkAsync(store);
        Time.Advance(TimeSpan.FromMinutes(2));
        await AssertNoOrchestrationWorkAsync(store);

        await store.CompleteOrchestrationAsync(again, BusyEpisode(again), Ct);
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await GetAsync(store, "p")).Status);
        Assert.Equal("p", (await GetAsync(store, "p-child")).ParentInstanceId);
        Assert.Equal(1, (await GetEntityAsync(store, Counter)).BacklogQueueSize);
        var ready = await LockAllAsync(store);
        Assert.Equal(["p-child", "target"], ready.Keys.Order(StringComparer.Ordinal));
        Assert.Single(ready["target"].NewMessages);
        Assert.NotNull(await store.TryLockActivityAsync(Lease, Ct));
        await AssertNoActivityWorkAsync(store);
    }

    [Fact]
    public async Task A_failed_checkpoint_commit_leaves_nothing_half_applied_after_a_restart()
    {
        var (store, location) = await NewFaultableStoreAsync();
        await CreateRunningAsync(store, "target");
        await CreateAsync(store, "p");
        var workItem = await LockAsync(store, "p");
        location.Faults.Fail = b => b.UpsertInstances.Any(i => i.InstanceId == "p") ? new IOException("disk full") : null;
        await Assert.ThrowsAsync<IOException>(() => store.CompleteOrchestrationAsync(workItem, BusyEpisode(workItem), Ct));
        location.Faults.Fail = null;

        store = await RestartAsync(store, location);

        Assert.Equal(OrchestrationRuntimeStatus.Pending, (await GetAsync(store, "p")).Status);
        Assert.Null(await store.GetInstanceAsync("p-child", includePayloads: false, Ct));
        Assert.Null(await store.GetEntityAsync(Counter, includeState: true, Ct));
        await AssertNoActivityWorkAsync(store);
        var again = await LockAsync(store, "p");
        Assert.Equal(workItem.NewMessages, again.NewMessages);
        await AssertNoOrchestrationWorkAsync(store);
    }

    [Fact]
    public async Task A_failed_create_leaves_no_instance_and_the_id_free()
    {
        var (store, location) = await NewFaultableStoreAsync();
        location.Faults.Fail = b => b.UpsertInstances.Count > 0 ? new IOException("disk full") : null;

        await Assert.ThrowsAsync<IOException>(() => CreateAsync(store, "x"));
        location.Faults.Fail = null;

        Assert.Null(await store.GetInstanceAsync("x", includePayloads: false, Ct));
        await AssertNoOrchestrationWorkAsync(store);
        await CreateAsync(store, "x");
        Assert.Single((await LockAsync(store, "x")).NewMessages);
    }

    [Fact]
    public async Task A_failed_send_delivers_nothing()
    {
        var (store, location) = await NewFaultableStoreAsync();
        await CreateRunningAsync(store, "w");
        location.Faults.Fail = b => b.InsertMessages.Count > 0 ? new IOException("disk full") : null;

        await Assert.ThrowsAsync<IOException>(() => store.SendMessageAsync("w", Messages.Event("lost"), Ct));
        location.Faults.Fail = null;

        await AssertNoOrchestrationWorkAsync(store);
        await store.SendMessageAsync("w", Messages.Event("kept"), Ct);
        Assert.Equal("kept", Assert.Single((await LockAsync(store, "w")).NewMessages).EventRaised.Name);
    }

    [Fact]
    public async Task A_failed_entity_commit_keeps_the_state_and_offers_the_batch_again()
    {
        var (store, location) = await NewFaultableStoreAsync();
        await store.SignalEntityAsync(Counter, "set", null, null, Ct);
        var set = await LockEntityAsync(store, Counter);
        await store.CompleteEntityAsync(set, BatchResult(set, "1"), Ct);
        await CreateRunningAsync(store, "caller");
        await WakeAsync(store, "caller", Actions.CallEntity(0, Counter.ToString(), "add", "req-1"));
        var batch = await LockEntityAsync(store, Counter);
        location.Faults.Fail = b => b.UpsertEntities.Count > 0 ? new IOException("disk full") : null;

        await Assert.ThrowsAsync<IOException>(() => store.CompleteEntityAsync(batch, BatchResult(batch, "2", "\"ok\""), Ct));
        location.Faults.Fail = null;

        Assert.Equal("1", (await GetEntityAsync(store, Counter)).SerializedState);
        await AssertNoOrchestrationWorkAsync(store);
        var again = await LockEntityAsync(store, Counter);
        Assert.Equal(batch.Operations, again.Operations);
        Assert.Equal("1", again.Entity.SerializedState);
        await store.CompleteEntityAsync(again, BatchResult(again, "2", "\"ok\""), Ct);
        Assert.Equal("2", (await GetEntityAsync(store, Counter)).SerializedState);
        Assert.Equal("req-1", Assert.Single((await LockAsync(store, "caller")).NewMessages).EntityOperationCompleted?.RequestId);
    }

    [Fact]
    public async Task A_failed_lock_grant_commit_grants_nothing_and_is_retried()
    {
        var (store, location) = await NewFaultableStoreAsync();
        await CreateRunningAsync(store, "A");

        // An operation ahead of the request leaves the grant to the entity's turn instead of A's checkpoint.
        await store.SignalEntityAsync(Counter, "first", null, null, Ct);
        await WakeAsync(store, "A", Actions.LockEntities(0, "cs-a", Counter.ToString()));
        var first = await LockEntityAsync(store, Counter);
        await store.CompleteEntityAsync(first, BatchResult(first, "1"), Ct);
        location.Faults.Fail = b => b.UpsertEntities.Count > 0 ? new IOException("disk full") : null;

        await Assert.ThrowsAsync<IOException>(() => store.TryLockEntityAsync(Lease, Ct));
        location.Faults.Fail = null;

        Assert.Null((await GetEntityAsync(store, Counter)).LockedBy);
        await AssertNoOrchestrationWorkAsync(store);
        await AssertNoEntityWorkAsync(store);
        Assert.Equal("A", (await GetEntityAsync(store, Counter)).LockedBy);
        Assert.Equal("cs-a", Assert.Single((await LockAsync(store, "A")).NewMessages).EntityLockGranted?.CriticalSectionId);
    }

    [Fact]
    public async Task A_failed_checkpoint_that_took_a_free_lock_grants_nothing_and_is_retried()
    {
        var (store, location) = await NewFaultableStoreAsync();
        await CreateRunningAsync(store, "A");
        Assert.True(await store.SendMessageAsync("A", Messages.Event("wake"), Ct));
        var workItem = await LockAsync(store, "A");
        location.Faults.Fail = b => b.UpsertEntities.Count > 0 ? new IOException("disk full") : null;

        await Assert.ThrowsAsync<IOException>(() => store.CompleteOrchestrationAsync(workItem, Episode(workItem, Actions.LockEntities(0, "cs-a", Counter.ToString())), Ct));
        location.Faults.Fail = null;

        Assert.Null((await store.GetEntityAsync(Counter, includeState: false, Ct))?.LockedBy);
        await AssertNoEntityWorkAsync(store);
        var retry = await LockAsync(store, "A");
        await store.CompleteOrchestrationAsync(retry, Episode(retry, Actions.LockEntities(0, "cs-a", Counter.ToString())), Ct);
        Assert.Equal("A", (await GetEntityAsync(store, Counter)).LockedBy);
        await AssertNoEntityWorkAsync(store);
        Assert.Equal("cs-a", Assert.Single((await LockAsync(store, "A")).NewMessages).EntityLockGranted?.CriticalSectionId);
    }

    [Fact]
    public async Task A_failed_entity_storage_clean_up_changes_nothing()
    {
        var (store, location) = await NewFaultableStoreAsync();
        await CreateRunningAsync(store, "A");
        await AcquireLockAsync(store, "A", "cs-a", Counter);
        await WakeAsync(store, "A", Actions.Complete(0, null));
        location.Faults.Fail = b => b.DeleteEntities.Count > 0 || b.UpsertEntities.Count > 0 ? new IOException("disk full") : null;

        await Assert.ThrowsAsync<IOException>(() => store.CleanEntityStorageAsync(removeEmptyEntities: true, releaseOrphanedLocks: true, Ct));
        location.Faults.Fail = null;

        Assert.Equal("A", (await GetEntityAsync(store, Counter)).LockedBy);
        await store.SignalEntityAsync(Counter, "waiting", null, null, Ct);
        await AssertNoEntityWorkAsync(store);
        Assert.Equal(new CleanEntityStorageResult(0, 1), await store.CleanEntityStorageAsync(removeEmptyEntities: true, releaseOrphanedLocks: true, Ct));
        Assert.Equal("waiting", Assert.Single((await LockEntityAsync(store, Counter)).Operations).EntityOperationSignaled?.Operation);
    }

    [Fact]
    public async Task A_signal_to_an_entity_that_a_failed_checkpoint_would_have_created_is_not_lost()
    {
        var (store, location) = await NewFaultableStoreAsync();
        using var timeout = Timeout();
        await CreateRunningAsync(store, "sender");
        await store.SendMessageAsync("sender", Messages.Event("go"), Ct);
        var workItem = await LockAsync(store, "sender");
        var checkpointHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var signalHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseCheckpoint = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseSignal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        location.Faults.Hold = async b =>
        {
            if (b.UpsertInstances.Any(i => i.InstanceId == "sender"))
            {
                checkpointHeld.TrySetResult();
                await releaseCheckpoint.Task;
            }
            else if (b.InsertMessages.Any(m => m.Event.EntityOperationSignaled?.Operation == "other"))
            {
                signalHeld.TrySetResult();
                await releaseSignal.Task;
            }
        };
        location.Faults.Fail = b => b.UpsertInstances.Any(i => i.InstanceId == "sender") ? new IOException("disk full") : null;

        var checkpoint = store.CompleteOrchestrationAsync(workItem, Episode(workItem, Actions.SignalEntity(0, Counter.ToString(), "poke")), timeout.Token);
        await checkpointHeld.Task.WaitAsync(timeout.Token);
        var signal = store.SignalEntityAsync(Counter, "other", null, null, timeout.Token);
        await signalHeld.Task.WaitAsync(timeout.Token);
        releaseCheckpoint.SetResult();
        await Assert.ThrowsAsync<IOException>(() => checkpoint.WaitAsync(timeout.Token));
        releaseSignal.SetResult();
        await signal.WaitAsync(timeout.Token);
        location.Faults.Hold = null;
        location.Faults.Fail = null;

        var batch = await LockEntityAsync(store, Counter);
        Assert.Equal("other", Assert.Single(batch.Operations).EntityOperationSignaled?.Operation);
        await store.CompleteEntityAsync(batch, BatchResult(batch, "1"), Ct);
        Assert.Equal("1", (await GetEntityAsync(store, Counter)).SerializedState);
    }

    [Fact]
    public async Task A_signal_racing_with_the_removal_of_its_entity_is_not_lost()
    {
        var (store, location) = await NewFaultableStoreAsync();
        using var timeout = Timeout();
        await store.SignalEntityAsync(Counter, "set", null, null, Ct);
        var set = await LockEntityAsync(store, Counter);
        await store.CompleteEntityAsync(set, BatchResult(set, "1"), Ct);
        await store.SignalEntityAsync(Counter, "delete", null, null, Ct);
        var deleting = await LockEntityAsync(store, Counter);
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        location.Faults.Hold = async b =>
        {
            if (b.InsertMessages.Any(m => m.Event.EntityOperationSignaled?.Operation == "late"))
            {
                reached.TrySetResult();
                await release.Task;
            }
        };

        var late = store.SignalEntityAsync(Counter, "late", null, null, timeout.Token);
        await reached.Task.WaitAsync(timeout.Token);
        await store.CompleteEntityAsync(deleting, BatchResult(deleting, null), Ct);
        release.SetResult();
        await late.WaitAsync(timeout.Token);
        location.Faults.Hold = null;

        var batch = await LockEntityAsync(store, Counter);
        Assert.Equal("late", Assert.Single(batch.Operations).EntityOperationSignaled?.Operation);
        Assert.Null(batch.Entity.SerializedState);
    }

    [Fact]
    public async Task A_message_from_a_checkpoint_racing_with_the_removal_of_its_entity_is_not_lost()
    {
        var (store, location) = await NewFaultableStoreAsync();
        using var timeout = Timeout();
        await CreateRunningAsync(store, "sender");
        await store.SignalEntityAsync(Counter, "delete", null, null, Ct);
        var deleting = await LockEntityAsync(store, Counter);
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        location.Faults.Hold = async b =>
        {
            if (b.UpsertInstances.Any(i => i.InstanceId == "sender"))
            {
                reached.TrySetResult();
                await release.Task;
            }
        };

        await store.SendMessageAsync("sender", Messages.Event("go"), Ct);
        var workItem = await LockAsync(store, "sender");
        var sending = store.CompleteOrchestrationAsync(workItem, Episode(workItem, Actions.SignalEntity(0, Counter.ToString(), "late")), timeout.Token);
        await reached.Task.WaitAsync(timeout.Token);
        await store.CompleteEntityAsync(deleting, BatchResult(deleting, null), Ct);
        release.SetResult();
        await sending.WaitAsync(timeout.Token);
        location.Faults.Hold = null;

        Assert.Equal("late", Assert.Single((await LockEntityAsync(store, Counter)).Operations).EntityOperationSignaled?.Operation);
    }

    [Fact]
    public async Task A_completion_in_flight_when_its_lease_expires_is_applied_once()
    {
        var (store, location) = await NewFaultableStoreAsync();
        using var timeout = Timeout();
        await CreateAsync(store, "slow");
        var first = await LockAsync(store, "slow", TimeSpan.FromSeconds(30));
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holds = 0;
        location.Faults.Hold = async b =>
        {
            if (b.UpsertInstances.Any(i => i.InstanceId == "slow") && Interlocked.Increment(ref holds) == 1)
            {
                reached.TrySetResult();
                await release.Task;
            }
        };
        var firstCompletion = store.CompleteOrchestrationAsync(first, Episode(first, Actions.ScheduleTask(0, "First", null)), timeout.Token);
        await reached.Task.WaitAsync(timeout.Token);

        Time.Advance(TimeSpan.FromSeconds(31));
        var second = await store.TryLockOrchestrationAsync(TimeSpan.FromSeconds(30), Ct);
        var secondOutcome = second is null
            ? null
            : await OutcomeAsync(store.CompleteOrchestrationAsync(second, Episode(second, Actions.ScheduleTask(0, "Second", null)), timeout.Token));
        release.SetResult();
        var firstOutcome = await OutcomeAsync(firstCompletion.WaitAsync(timeout.Token));

        Exception?[] outcomes = second is null ? [firstOutcome] : [firstOutcome, secondOutcome];
        Assert.Single(outcomes, o => o is null);
        Assert.All(outcomes.Where(o => o is not null), o => Assert.IsType<LeaseLostException>(o));
        var history = await store.GetHistoryAsync("slow", null, Ct);
        Assert.Single(history, e => e.TaskScheduled is not null);
        Assert.Single(history, e => e.ExecutionStarted is not null);
        var activity = await store.TryLockActivityAsync(Lease, Ct);
        Assert.Equal(history.Single(e => e.TaskScheduled is not null).TaskScheduled.Name, activity?.Request.Name);
        await AssertNoActivityWorkAsync(store);
        await AssertNoOrchestrationWorkAsync(store);
    }
}
