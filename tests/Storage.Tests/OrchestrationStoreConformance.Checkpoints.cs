using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;
using EventType = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Storage.Tests;

public abstract partial class OrchestrationStoreConformance
{
    /// <summary>
    /// Runs the first episode of "parent": it schedules an activity (#0), a ten-minute timer (#1), raises an event
    /// on the running instance "target" (#2) and starts the sub-orchestration "parent-child" (#3).
    /// </summary>
    private async Task<(OrchestrationWorkItem WorkItem, OrchestrationCheckpoint Checkpoint, DateTime FireAt)> RunFanOutEpisodeAsync(IOrchestrationStore store)
    {
        await CreateRunningAsync(store, "target");
        await CreateAsync(store, "parent", "Parent", "\"in\"");
        var workItem = await LockAsync(store, "parent");
        var fireAt = Now.AddMinutes(10);
        var checkpoint = await RunEpisodeAsync(
            store,
            workItem,
            Actions.ScheduleTask(0, "Charge", "{\"amount\":5}"),
            Actions.CreateTimer(1, fireAt),
            Actions.SendEvent(2, "target", "Ping", "\"hi\""),
            Actions.CreateSubOrchestration(3, "parent-child", "Child", "7"));
        return (workItem, checkpoint, fireAt);
    }

    [Fact]
    public async Task A_checkpoint_appends_its_history_in_order_and_updates_the_status()
    {
        var (store, _) = await NewStoreAsync();

        var (workItem, checkpoint, _) = await RunFanOutEpisodeAsync(store);

        var history = await store.GetHistoryAsync("parent", null, Ct);
        Assert.Equal(
            [
                EventType.OrchestratorStarted, EventType.ExecutionStarted, EventType.TaskScheduled, EventType.TimerCreated,
                EventType.EventSent, EventType.SubOrchestrationInstanceCreated, EventType.OrchestratorCompleted,
            ],
            Kinds(history));
        Assert.Equal(checkpoint.NewHistory, history);
        Assert.Equal(history, await store.GetHistoryAsync("parent", workItem.Metadata.ExecutionId, Ct));
        var instance = await GetAsync(store, "parent");
        Assert.Equal(OrchestrationRuntimeStatus.Running, instance.Status);
        Assert.Equal(workItem.Metadata.ExecutionId, instance.ExecutionId);
    }

    [Fact]
    public async Task A_checkpoint_enqueues_its_activities_with_task_id_name_and_input()
    {
        var (store, _) = await NewStoreAsync();
        var (workItem, _, _) = await RunFanOutEpisodeAsync(store);

        var activity = await store.TryLockActivityAsync(Lease, Ct);

        Assert.NotNull(activity);
        Assert.Equal("parent", activity.InstanceId);
        Assert.Equal("Charge", activity.Request.Name);
        Assert.Equal(0, activity.Request.TaskId);
        Assert.Equal("{\"amount\":5}", activity.Request.Input);
        Assert.Equal(workItem.Metadata.ExecutionId, activity.Request.OrchestrationInstance.ExecutionId);
        await AssertNoActivityWorkAsync(store);
    }

    [Fact]
    public async Task A_timer_is_delivered_only_at_its_fire_time()
    {
        var (store, _) = await NewStoreAsync();
        var (_, _, fireAt) = await RunFanOutEpisodeAsync(store);
        var others = await LockAllAsync(store);
        Assert.DoesNotContain("parent", others.Keys);
        foreach (var other in others.Values)
        {
            await RunEpisodeAsync(store, other);
        }

        Time.Advance(fireAt - Now - TimeSpan.FromMilliseconds(1));
        await AssertNoOrchestrationWorkAsync(store);
        Time.Advance(TimeSpan.FromMilliseconds(1));

        var workItem = await LockAsync(store, "parent");
        var fired = Assert.Single(workItem.NewMessages).TimerFired;
        Assert.NotNull(fired);
        Assert.Equal(1, fired.TimerId);
        Assert.Equal(fireAt, fired.FireAt.ToDateTime());
    }

    [Fact]
    public async Task A_sent_event_reaches_its_target_in_the_next_work_item()
    {
        var (store, _) = await NewStoreAsync();
        await RunFanOutEpisodeAsync(store);

        var ready = await LockAllAsync(store);

        Assert.Equal(["parent-child", "target"], ready.Keys.Order(StringComparer.Ordinal));
        var raised = Assert.Single(ready["target"].NewMessages).EventRaised;
        Assert.Equal("Ping", raised.Name);
        Assert.Equal("\"hi\"", raised.Input);
    }

    [Fact]
    public async Task A_sub_orchestration_is_created_pending_with_its_parent_and_its_completion_reaches_the_parent()
    {
        var (store, _) = await NewStoreAsync();
        await RunFanOutEpisodeAsync(store);

        var child = await GetAsync(store, "parent-child", includePayloads: true);
        Assert.Equal(OrchestrationRuntimeStatus.Pending, child.Status);
        Assert.Equal("parent", child.ParentInstanceId);
        Assert.Equal("Child", child.Name);
        Assert.Equal("7", child.SerializedInput);

        var ready = await LockAllAsync(store);
        await RunEpisodeAsync(store, ready["target"]);
        var started = Assert.Single(ready["parent-child"].NewMessages).ExecutionStarted;
        Assert.Equal("parent", started.ParentInstance.OrchestrationInstance.InstanceId);
        Assert.Equal(3, started.ParentInstance.TaskScheduledId);
        await RunEpisodeAsync(store, ready["parent-child"], Actions.Complete(0, "\"child-out\""));

        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await GetAsync(store, "parent-child")).Status);
        var parent = await LockAsync(store, "parent");
        var completed = Assert.Single(parent.NewMessages).SubOrchestrationInstanceCompleted;
        Assert.NotNull(completed);
        Assert.Equal(3, completed.TaskScheduledId);
        Assert.Equal("\"child-out\"", completed.Result);
    }

    [Fact]
    public async Task A_completed_activity_is_delivered_to_the_next_orchestration_work_item_and_not_run_again()
    {
        var (store, _) = await NewStoreAsync();
        await RunFanOutEpisodeAsync(store);
        await LockAllAsync(store);
        var activity = await store.TryLockActivityAsync(Lease, Ct);
        Assert.NotNull(activity);

        await store.CompleteActivityAsync(activity, Messages.TaskCompleted(0, "\"paid\"", Now), Ct);

        var workItem = await LockAsync(store, "parent");
        var completed = Assert.Single(workItem.NewMessages).TaskCompleted;
        Assert.NotNull(completed);
        Assert.Equal(0, completed.TaskScheduledId);
        Assert.Equal("\"paid\"", completed.Result);
        Assert.Equal(7, workItem.PastEvents.Count);
        await RunEpisodeAsync(store, workItem);
        Assert.Contains(await store.GetHistoryAsync("parent", null, Ct), e => e.TaskCompleted?.Result == "\"paid\"");
        await AssertNoActivityWorkAsync(store);
    }

    [Fact]
    public async Task A_failed_activity_is_delivered_as_a_failure()
    {
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "w");
        await RunNextEpisodeAsync(store, "w", Actions.ScheduleTask(0, "Flaky", null));
        var activity = await store.TryLockActivityAsync(Lease, Ct);
        Assert.NotNull(activity);

        await store.CompleteActivityAsync(activity, Messages.TaskFailed(0, "no luck", Now), Ct);

        var failed = Assert.Single((await LockAsync(store, "w")).NewMessages).TaskFailed;
        Assert.NotNull(failed);
        Assert.Equal("no luck", failed.FailureDetails.ErrorMessage);
    }

    [Fact]
    public async Task A_completion_checkpoint_makes_the_instance_terminal_with_its_output()
    {
        var (store, _) = await NewStoreAsync();
        await CreateRunningAsync(store, "w");

        await WakeAsync(store, "w", Actions.Complete(0, "\"out\""));

        var instance = await GetAsync(store, "w", includePayloads: true);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, instance.Status);
        Assert.Equal("\"out\"", instance.SerializedOutput);
        Assert.NotNull(instance.CompletedAt);
        var history = await store.GetHistoryAsync("w", null, Ct);
        Assert.Equal(EventType.ExecutionCompleted, history[^2].EventTypeCase);
        await AssertNoOrchestrationWorkAsync(store);
    }

    [Fact]
    public async Task An_activity_result_for_a_terminated_instance_is_dropped_and_does_not_resurrect_it()
    {
        var (store, location) = await NewStoreAsync();
        await CreateAsync(store, "w");
        await RunNextEpisodeAsync(store, "w", Actions.ScheduleTask(0, "Slow", null), Actions.ScheduleTask(1, "NeverRuns", null));
        var activity = await store.TryLockActivityAsync(Lease, Ct);
        Assert.NotNull(activity);
        Assert.Equal("Slow", activity.Request.Name);
        await store.SendMessageAsync("w", Messages.Terminate(), Ct);
        await RunNextEpisodeAsync(store, "w");
        var history = await store.GetHistoryAsync("w", null, Ct);

        await store.CompleteActivityAsync(activity, Messages.TaskCompleted(0, "\"late\"", Now), Ct);

        Assert.Equal(OrchestrationRuntimeStatus.Terminated, (await GetAsync(store, "w")).Status);
        Assert.Equal(history, await store.GetHistoryAsync("w", null, Ct));
        await AssertNoOrchestrationWorkAsync(store);
        await AssertNoActivityWorkAsync(store);
        store = await RestartAsync(store, location);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, (await GetAsync(store, "w")).Status);
        await AssertNoOrchestrationWorkAsync(store);
        await AssertNoActivityWorkAsync(store);
    }

    [Fact]
    public async Task Messages_arriving_while_an_instance_is_locked_come_in_the_next_work_item_in_order()
    {
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "busy");
        var first = await LockAsync(store, "busy");
        var firstEpisode = Episode(first, Actions.ScheduleTask(0, "Work", null));
        var activity = await store.TryLockActivityAsync(Lease, Ct);
        Assert.Null(activity);

        await store.SendMessageAsync("busy", Messages.Event("e1"), Ct);
        await store.SendMessageAsync("busy", Messages.Event("e2"), Ct);
        await AssertNoOrchestrationWorkAsync(store);
        await store.CompleteOrchestrationAsync(first, firstEpisode, Ct);
        activity = await store.TryLockActivityAsync(Lease, Ct);
        Assert.NotNull(activity);
        await store.CompleteActivityAsync(activity, Messages.TaskCompleted(0, null, Now), Ct);
        await store.SendMessageAsync("busy", Messages.Event("e3"), Ct);

        Assert.Equal([EventType.ExecutionStarted], Kinds(first.NewMessages));
        var second = await LockAsync(store, "busy");
        Assert.Equal([EventType.EventRaised, EventType.EventRaised, EventType.TaskCompleted, EventType.EventRaised], Kinds(second.NewMessages));
        Assert.Equal(["e1", "e2", "e3"], second.NewMessages.Where(m => m.EventRaised is not null).Select(m => m.EventRaised.Name));
        Assert.Equal(firstEpisode.NewHistory, second.PastEvents);
    }

    [Fact]
    public async Task Continue_as_new_keeps_the_instance_starts_a_new_execution_and_drops_the_old_history()
    {
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "loop", "Loop", "1");
        var first = await LockAsync(store, "loop");
        await RunEpisodeAsync(store, first, Actions.ScheduleTask(0, "Stale", null));
        var oldExecution = first.Metadata.ExecutionId;

        await WakeAsync(store, "loop", Actions.ContinueAsNew(1, "2"));

        var instance = await GetAsync(store, "loop", includePayloads: true);
        Assert.Equal(OrchestrationRuntimeStatus.Running, instance.Status);
        Assert.NotEqual(oldExecution, instance.ExecutionId);
        Assert.Equal("2", instance.SerializedInput);
        Assert.Empty(await store.GetHistoryAsync("loop", oldExecution, Ct));
        var next = await LockAsync(store, "loop");
        Assert.Equal(instance.ExecutionId, next.Metadata.ExecutionId);
        Assert.Empty(next.PastEvents);
        var started = Assert.Single(next.NewMessages).ExecutionStarted;
        Assert.NotNull(started);
        Assert.Equal("2", started.Input);
        Assert.Equal(instance.ExecutionId, started.OrchestrationInstance.ExecutionId);
        var checkpoint = await RunEpisodeAsync(store, next);
        Assert.Equal(checkpoint.NewHistory, await store.GetHistoryAsync("loop", null, Ct));
        Assert.Equal(checkpoint.NewHistory, await store.GetHistoryAsync("loop", instance.ExecutionId, Ct));
        await AssertNoActivityWorkAsync(store);
    }

    [Fact]
    public async Task Continue_as_new_drops_the_previous_executions_pending_timers_and_activity_results()
    {
        var (store, location) = await NewStoreAsync();
        await CreateAsync(store, "loop");
        await RunNextEpisodeAsync(store, "loop", Actions.CreateTimer(0, Now.AddMinutes(10)), Actions.ScheduleTask(1, "Work", null));
        var activity = await store.TryLockActivityAsync(Lease, Ct);
        Assert.NotNull(activity);
        await store.SendMessageAsync("loop", Messages.Event("restart"), Ct);
        var continuing = await LockAsync(store, "loop");
        await store.CompleteActivityAsync(activity, Messages.TaskCompleted(1, "\"old\"", Now), Ct);

        await RunEpisodeAsync(store, continuing, Actions.ContinueAsNew(2, "2"));

        var next = await LockAsync(store, "loop");
        Assert.Equal([EventType.ExecutionStarted], Kinds(next.NewMessages));
        var fireAt = Now.AddHours(1);
        await RunEpisodeAsync(store, next, Actions.CreateTimer(0, fireAt), Actions.ScheduleTask(1, "Work", null));
        Time.Advance(TimeSpan.FromMinutes(10));
        await AssertNoOrchestrationWorkAsync(store);
        store = await RestartAsync(store, location);
        await AssertNoOrchestrationWorkAsync(store);
        Time.Advance(fireAt - Now);
        var fired = Assert.Single((await LockAsync(store, "loop")).NewMessages).TimerFired;
        Assert.NotNull(fired);
        Assert.Equal(fireAt, fired.FireAt.ToDateTime());
    }

    [Fact]
    public async Task History_is_returned_in_order_for_the_current_and_an_explicit_execution()
    {
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "h");
        var first = await RunNextEpisodeAsync(store, "h", Actions.CreateTimer(0, Now.AddSeconds(1)));
        Time.Advance(TimeSpan.FromSeconds(1));
        await store.SendMessageAsync("h", Messages.Event("go"), Ct);
        var second = await RunNextEpisodeAsync(store, "h", Actions.ScheduleTask(1, "A", null), Actions.ScheduleTask(2, "B", null));
        var executionId = (await GetAsync(store, "h")).ExecutionId;
        HistoryEvent[] expected = [.. first.NewHistory, .. second.NewHistory];

        Assert.Equal(expected, await store.GetHistoryAsync("h", null, Ct));
        Assert.Equal(expected, await store.GetHistoryAsync("h", executionId, Ct));
        Assert.Empty(await store.GetHistoryAsync("h", "no-such-execution", Ct));

        var third = await WakeAsync(store, "h", Actions.Complete(3, null));
        expected = [.. expected, .. third.NewHistory];
        Assert.Equal(expected, await store.GetHistoryAsync("h", null, Ct));
        Assert.Equal(expected, await store.GetHistoryAsync("h", executionId, Ct));
    }
}
