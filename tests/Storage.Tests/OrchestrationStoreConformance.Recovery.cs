using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using EventType = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Storage.Tests;

/// <summary>
/// Restarts: each case disposes the store and opens a new one over the same location. What was committed must be
/// there; what was only held in memory (leases, results not yet checkpointed) must come back as work to redo.
/// </summary>
public abstract partial class OrchestrationStoreConformance
{
    [Fact]
    public async Task Restart_delivers_a_created_but_unstarted_instance_again()
    {
        var (store, location) = await NewStoreAsync();
        var request = Instance("fresh", "Checkout", "\"in\"");
        await store.CreateInstanceAsync(request, Ct);

        store = await RestartAsync(store, location);

        var instance = await GetAsync(store, "fresh", includePayloads: true);
        Assert.Equal(OrchestrationRuntimeStatus.Pending, instance.Status);
        Assert.Equal("\"in\"", instance.SerializedInput);
        var workItem = await LockAsync(store, "fresh");
        Assert.Empty(workItem.PastEvents);
        Assert.Equal(request.ExecutionStarted, Assert.Single(workItem.NewMessages));
        await AssertNoOrchestrationWorkAsync(store);
    }

    [Fact]
    public async Task Restart_keeps_a_scheduled_start_time()
    {
        var (store, location) = await NewStoreAsync();
        await store.CreateInstanceAsync(Instance("later", startAt: Now.AddMinutes(3)), Ct);

        store = await RestartAsync(store, location);

        await AssertNoOrchestrationWorkAsync(store);
        Time.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(EventType.ExecutionStarted, Assert.Single((await LockAsync(store, "later")).NewMessages).EventTypeCase);
    }

    [Fact]
    public async Task Restart_delivers_a_locked_but_uncommitted_work_item_again()
    {
        var (store, location) = await NewStoreAsync();
        await CreateRunningAsync(store, "w");
        await store.SendMessageAsync("w", Messages.Event("e1"), Ct);
        await store.SendMessageAsync("w", Messages.Event("e2"), Ct);
        var locked = await LockAsync(store, "w", TimeSpan.FromHours(1));

        store = await RestartAsync(store, location);

        var again = await LockAsync(store, "w");
        Assert.Equal(locked.NewMessages, again.NewMessages);
        Assert.Equal(locked.PastEvents, again.PastEvents);
        await RunEpisodeAsync(store, again);
        Assert.Equal(2, (await store.GetHistoryAsync("w", null, Ct)).Count(e => e.EventRaised is not null));
    }

    [Fact]
    public async Task Restart_delivers_locked_activities_and_entity_batches_again()
    {
        var (store, location) = await NewStoreAsync();
        await CreateAsync(store, "w");
        await RunNextEpisodeAsync(store, "w", Actions.ScheduleTask(0, "Work", "1"));
        var activity = await store.TryLockActivityAsync(TimeSpan.FromHours(1), Ct);
        Assert.NotNull(activity);
        await store.SignalEntityAsync(Counter, "add", "1", null, Ct);
        var batch = await store.TryLockEntityAsync(TimeSpan.FromHours(1), Ct);
        Assert.NotNull(batch);

        store = await RestartAsync(store, location);

        var activityAgain = await store.TryLockActivityAsync(Lease, Ct);
        Assert.NotNull(activityAgain);
        Assert.Equal(activity.Request, activityAgain.Request);
        var batchAgain = await store.TryLockEntityAsync(Lease, Ct);
        Assert.NotNull(batchAgain);
        Assert.Equal(batch.Operations, batchAgain.Operations);
    }

    [Fact]
    public async Task Restart_keeps_committed_history_status_and_activities()
    {
        var (store, location) = await NewStoreAsync();
        await CreateAsync(store, "w", "Workflow", "\"in\"");
        var first = await RunNextEpisodeAsync(store, "w", Actions.ScheduleTask(0, "Charge", "{\"amount\":5}"), Actions.ScheduleTask(1, "Ship", null));
        var executionId = (await GetAsync(store, "w")).ExecutionId;

        store = await RestartAsync(store, location);

        var instance = await GetAsync(store, "w", includePayloads: true);
        Assert.Equal(OrchestrationRuntimeStatus.Running, instance.Status);
        Assert.Equal(executionId, instance.ExecutionId);
        Assert.Equal("\"in\"", instance.SerializedInput);
        Assert.Equal(first.NewHistory, await store.GetHistoryAsync("w", null, Ct));
        Assert.Equal(first.NewHistory, await store.GetHistoryAsync("w", executionId, Ct));
        var activities = new[] { await store.TryLockActivityAsync(Lease, Ct), await store.TryLockActivityAsync(Lease, Ct) };
        Assert.Equal(["Charge", "Ship"], activities.Select(a => a?.Request.Name).Order(StringComparer.Ordinal));
        Assert.Equal("{\"amount\":5}", activities.Single(a => a?.Request.Name == "Charge")!.Request.Input);
        Assert.Equal([0, 1], activities.Select(a => a!.Request.TaskId).Order());
        await AssertNoActivityWorkAsync(store);

        await store.CompleteActivityAsync(activities[0]!, Messages.TaskCompleted(activities[0]!.Request.TaskId, null, Now), Ct);
        var next = await LockAsync(store, "w");
        Assert.Equal(first.NewHistory, next.PastEvents);
        var second = await RunEpisodeAsync(store, next);
        Assert.Equal([.. first.NewHistory, .. second.NewHistory], await store.GetHistoryAsync("w", null, Ct));
    }

    [Fact]
    public async Task Restart_runs_an_activity_whose_result_was_not_checkpointed_again_but_not_one_whose_result_was()
    {
        var (store, location) = await NewStoreAsync();
        await CreateAsync(store, "w");
        await RunNextEpisodeAsync(store, "w", Actions.ScheduleTask(0, "Recorded", null), Actions.ScheduleTask(1, "Unrecorded", null));
        var recorded = await store.TryLockActivityAsync(Lease, Ct);
        var unrecorded = await store.TryLockActivityAsync(Lease, Ct);
        Assert.NotNull(recorded);
        Assert.NotNull(unrecorded);
        if (recorded.Request.Name != "Recorded")
        {
            (recorded, unrecorded) = (unrecorded, recorded);
        }

        await store.CompleteActivityAsync(recorded, Messages.TaskCompleted(recorded.Request.TaskId, "\"r\"", Now), Ct);
        await RunNextEpisodeAsync(store, "w");
        await store.CompleteActivityAsync(unrecorded, Messages.TaskCompleted(unrecorded.Request.TaskId, "\"u\"", Now), Ct);

        store = await RestartAsync(store, location);

        var again = await store.TryLockActivityAsync(Lease, Ct);
        Assert.NotNull(again);
        Assert.Equal("Unrecorded", again.Request.Name);
        Assert.Equal(1, again.Request.TaskId);
        await AssertNoActivityWorkAsync(store);
        await AssertNoOrchestrationWorkAsync(store);
        var history = await store.GetHistoryAsync("w", null, Ct);
        Assert.Equal("\"r\"", Assert.Single(history, e => e.TaskCompleted is not null).TaskCompleted.Result);
    }

    [Fact]
    public async Task Restart_keeps_timer_fire_times()
    {
        var (store, location) = await NewStoreAsync();
        await CreateAsync(store, "w");
        var fireAt = Now.AddMinutes(5);
        await RunNextEpisodeAsync(store, "w", Actions.CreateTimer(0, fireAt));
        Time.Advance(TimeSpan.FromMinutes(2));

        store = await RestartAsync(store, location);

        await AssertNoOrchestrationWorkAsync(store);
        Time.Advance(fireAt - Now - TimeSpan.FromMilliseconds(1));
        await AssertNoOrchestrationWorkAsync(store);
        Time.Advance(TimeSpan.FromMilliseconds(1));
        var fired = Assert.Single((await LockAsync(store, "w")).NewMessages).TimerFired;
        Assert.NotNull(fired);
        Assert.Equal(fireAt, fired.FireAt.ToDateTime());
    }

    [Fact]
    public async Task Restart_keeps_inbox_order_and_later_messages_follow_earlier_ones()
    {
        var (store, location) = await NewStoreAsync();
        await CreateRunningAsync(store, "w");
        await store.SendMessageAsync("w", Messages.Event("before-1"), Ct);
        await store.SendMessageAsync("w", Messages.Event("before-2"), Ct);

        store = await RestartAsync(store, location);
        await store.SendMessageAsync("w", Messages.Event("after"), Ct);

        var workItem = await LockAsync(store, "w");
        Assert.Equal(["before-1", "before-2", "after"], workItem.NewMessages.Select(m => m.EventRaised.Name));
    }

    [Fact]
    public async Task Restart_keeps_a_continued_execution()
    {
        var (store, location) = await NewStoreAsync();
        await CreateAsync(store, "loop", "Loop", "1");
        var old = (await RunNextEpisodeAsync(store, "loop", Actions.ScheduleTask(0, "Stale", null))).Metadata.ExecutionId;
        var continued = await WakeAsync(store, "loop", Actions.ContinueAsNew(1, "2"));

        store = await RestartAsync(store, location);

        var instance = await GetAsync(store, "loop");
        Assert.Equal(continued.Metadata.ExecutionId, instance.ExecutionId);
        Assert.Empty(await store.GetHistoryAsync("loop", old, Ct));
        await AssertNoActivityWorkAsync(store);
        var workItem = await LockAsync(store, "loop");
        Assert.Empty(workItem.PastEvents);
        Assert.Equal("2", Assert.Single(workItem.NewMessages).ExecutionStarted?.Input);
    }

    [Fact]
    public async Task Restart_keeps_entity_state_and_locks_and_the_requests_waiting_for_them()
    {
        var (store, location) = await NewStoreAsync();
        var stateful = new EntityInstanceId("counter", "s");
        await store.SignalEntityAsync(stateful, "set", null, null, Ct);
        var set = await LockEntityAsync(store, stateful);
        await store.CompleteEntityAsync(set, BatchResult(set, "42"), Ct);
        await CreateRunningAsync(store, "A");
        await CreateRunningAsync(store, "B");
        await AcquireLockAsync(store, "A", "cs-a", Counter);
        await WakeAsync(store, "B", Actions.LockEntities(0, "cs-b", Counter.ToString()));
        await store.SignalEntityAsync(Counter, "outsider", null, null, Ct);

        store = await RestartAsync(store, location);

        Assert.Equal("42", (await GetEntityAsync(store, stateful)).SerializedState);
        var locked = await GetEntityAsync(store, Counter);
        Assert.Equal("A", locked.LockedBy);
        Assert.Equal("cs-a", locked.CriticalSectionId);
        Assert.Equal(2, locked.BacklogQueueSize);
        await AssertNoEntityWorkAsync(store);
        await AssertNoOrchestrationWorkAsync(store);
        await WakeAsync(store, "A", Actions.UnlockEntity(0, "cs-a", Counter.ToString()));
        await AssertNoEntityWorkAsync(store);
        Assert.Equal("B", (await GetEntityAsync(store, Counter)).LockedBy);
        Assert.Equal("cs-b", Assert.Single((await LockAsync(store, "B")).NewMessages).EntityLockGranted?.CriticalSectionId);
    }

    [Fact]
    public async Task Restart_cleans_up_messages_and_activities_of_instances_that_finished()
    {
        var (store, location) = await NewStoreAsync();
        await CreateAsync(store, "done");
        await RunNextEpisodeAsync(store, "done", Actions.ScheduleTask(0, "Orphan", null), Actions.CreateTimer(1, Now.AddHours(1)));
        await store.SendMessageAsync("done", Messages.Event("finish"), Ct);
        var last = await LockAsync(store, "done");
        // The first store's background clean-up of the finished instance never lands: the next start must do it.
        location.Faults.Fail = b => b.UpsertInstances.Count == 0 && (b.DeleteMessages.Count > 0 || b.DeleteActivities.Count > 0)
            ? new InvalidOperationException("clean-up refused by the test")
            : null;
        await store.SendMessageAsync("done", Messages.Event("too-late"), Ct);
        await RunEpisodeAsync(store, last, Actions.Complete(2, null));
        await CreateRunningAsync(store, "alive");
        await store.SendMessageAsync("alive", Messages.Event("kept"), Ct);

        await CloseAsync(store);
        location.Faults.Fail = null;
        store = await OpenAsync(location);
        await CloseAsync(store);

        var durable = await ReadDurableStateAsync(location);
        Assert.DoesNotContain(durable.Messages, m => m.InstanceId == "done");
        Assert.DoesNotContain(durable.Activities, a => a.InstanceId == "done");
        Assert.Contains(durable.Messages, m => m.InstanceId == "alive" && m.Event.EventRaised?.Name == "kept");
        Assert.DoesNotContain(durable.ActiveInstances, i => i.InstanceId == "done");
    }

    [Fact]
    public async Task Restart_does_not_hand_out_activities_of_a_terminated_instance()
    {
        var (store, location) = await NewStoreAsync();
        await CreateAsync(store, "w");
        await RunNextEpisodeAsync(store, "w", Actions.ScheduleTask(0, "Never", null));
        await store.SendMessageAsync("w", Messages.Terminate(), Ct);
        await RunNextEpisodeAsync(store, "w");

        store = await RestartAsync(store, location);

        await AssertNoActivityWorkAsync(store);
        await AssertNoOrchestrationWorkAsync(store);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, (await GetAsync(store, "w")).Status);
    }

    [Fact]
    public async Task Restart_keeps_terminal_instances_readable_and_queryable()
    {
        var (store, location) = await NewStoreAsync();
        await CreateCompletedAsync(store, "done", output: "\"out\"");
        var history = await store.GetHistoryAsync("done", null, Ct);

        store = await RestartAsync(store, location);

        var instance = await GetAsync(store, "done", includePayloads: true);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, instance.Status);
        Assert.Equal("\"out\"", instance.SerializedOutput);
        Assert.Equal(history, await store.GetHistoryAsync("done", null, Ct));
        Assert.Equal(["done"], (await store.QueryInstancesAsync(new OrchestrationQuery(), Ct)).Instances.Select(i => i.InstanceId));
        await Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => store.CreateInstanceAsync(Instance("done"), Ct));
    }
}
