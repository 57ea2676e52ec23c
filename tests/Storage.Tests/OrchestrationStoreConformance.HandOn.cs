using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Storage.Tests;

/// <summary>
/// Work a worker takes on itself (the activity its episode scheduled, the episode its activity's result readied) is
/// queued like any work but wakes no dispatcher: the worker takes it from the queue right after.
/// </summary>
public abstract partial class OrchestrationStoreConformance
{
    [Fact]
    public async Task An_activity_the_caller_takes_is_queued_without_waking_the_activity_dispatcher()
    {
        var (store, _) = await NewStoreAsync();
        using var timeout = Timeout();
        await CreateAsync(store, "hand-on");
        var workItem = await LockAsync(store, "hand-on");
        var asleep = SleepingDispatcherOf(store, WorkItemKind.Activity, timeout.Token);

        var checkpoint = Episode(workItem, Actions.ScheduleTask(0, "Charge", "1"));
        checkpoint.CallerTakesActivity = true;
        await store.CompleteOrchestrationAsync(workItem, checkpoint, Ct);

        Assert.False(asleep.IsCompleted);
        var activity = await store.TryLockActivityAsync(Lease, Ct);
        Assert.Equal("Charge", activity?.Request.Name);

        // The result, handed in by a caller that takes the next episode, wakes no orchestration dispatcher either.
        var episodes = SleepingDispatcherOf(store, WorkItemKind.Orchestration, timeout.Token);
        activity!.CallerTakesNextEpisode = true;
        await store.CompleteActivityAsync(activity, Messages.TaskCompleted(0, "2", Now), Ct);
        Assert.False(episodes.IsCompleted);
        Assert.False(asleep.IsCompleted);
        var next = await LockAsync(store, "hand-on");
        Assert.Equal([Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase.TaskCompleted], Kinds(next.NewMessages));
    }

    [Fact]
    public async Task Work_queued_the_usual_way_wakes_its_dispatcher()
    {
        var (store, _) = await NewStoreAsync();
        using var timeout = Timeout();
        await CreateAsync(store, "woken");
        var workItem = await LockAsync(store, "woken");
        var activities = SleepingDispatcherOf(store, WorkItemKind.Activity, timeout.Token);

        await RunEpisodeAsync(store, workItem, Actions.ScheduleTask(0, "Charge", "1"));
        await activities.WaitAsync(timeout.Token);

        var activity = await store.TryLockActivityAsync(Lease, Ct);
        var episodes = SleepingDispatcherOf(store, WorkItemKind.Orchestration, timeout.Token);
        await store.CompleteActivityAsync(activity!, Messages.TaskCompleted(0, "2", Now), Ct);
        await episodes.WaitAsync(timeout.Token);
    }
}
