using System.Collections.Concurrent;
using System.Globalization;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using EventType = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Storage.Tests;

public abstract partial class OrchestrationStoreConformance
{
    [Fact]
    public async Task An_instance_is_never_handed_to_two_lockers_at_once()
    {
        const int Instances = 6;
        const int EventsPerInstance = 12;
        var (store, _) = await NewStoreAsync();
        var ids = Enumerable.Range(0, Instances).Select(i => $"hot-{i}").ToArray();
        foreach (var id in ids)
        {
            await CreateRunningAsync(store, id);
        }

        using var timeout = Timeout();
        var held = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var received = ids.ToDictionary(id => id, _ => new ConcurrentQueue<string>(), StringComparer.Ordinal);
        var violations = new ConcurrentQueue<string>();
        var delivered = 0;
        var senders = ids.Select(id => Task.Run(
            async () =>
            {
                for (var i = 0; i < EventsPerInstance; i++)
                {
                    await store.SendMessageAsync(id, Messages.Event(i.ToString(CultureInfo.InvariantCulture)), timeout.Token);
                }
            },
            timeout.Token));
        var workers = Enumerable.Range(0, 8).Select(worker => Task.Run(
            async () =>
            {
                while (Volatile.Read(ref delivered) < Instances * EventsPerInstance)
                {
                    timeout.Token.ThrowIfCancellationRequested();
                    var workItem = await store.TryLockOrchestrationAsync(Lease, timeout.Token);
                    if (workItem is null)
                    {
                        await Task.Yield();
                        continue;
                    }

                    if (!held.TryAdd(workItem.InstanceId, worker))
                    {
                        violations.Enqueue($"'{workItem.InstanceId}' locked by worker {worker} while worker {held[workItem.InstanceId]} held it");
                    }

                    foreach (var m in workItem.NewMessages)
                    {
                        received[workItem.InstanceId].Enqueue(m.EventRaised.Name);
                    }

                    var checkpoint = Episode(workItem);
                    held.TryRemove(workItem.InstanceId, out _);
                    await store.CompleteOrchestrationAsync(workItem, checkpoint, timeout.Token);
                    Interlocked.Add(ref delivered, workItem.NewMessages.Count);
                }
            },
            timeout.Token));

        await Task.WhenAll([.. senders, .. workers]);

        Assert.Empty(violations);
        var expected = Enumerable.Range(0, EventsPerInstance).Select(i => i.ToString(CultureInfo.InvariantCulture));
        foreach (var id in ids)
        {
            Assert.Equal(expected, received[id]);
            Assert.Equal(EventsPerInstance, (await store.GetHistoryAsync(id, null, Ct)).Count(e => e.EventRaised is not null));
        }
    }

    [Fact]
    public async Task An_activity_is_never_handed_to_two_lockers_at_once()
    {
        const int Activities = 60;
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "fan");
        await RunNextEpisodeAsync(store, "fan", [.. Enumerable.Range(0, Activities).Select(i => Actions.ScheduleTask(i, "Work", null))]);
        using var timeout = Timeout();
        var locked = new ConcurrentBag<int>();

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(
            async () =>
            {
                while (await store.TryLockActivityAsync(Lease, timeout.Token) is { } activity)
                {
                    locked.Add(activity.Request.TaskId);
                }
            },
            timeout.Token)));

        Assert.Equal(Enumerable.Range(0, Activities), locked.Order());
    }

    [Fact]
    public async Task An_expired_lease_hands_the_work_item_out_again_and_the_first_holder_loses_it()
    {
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "slow");
        var first = await LockAsync(store, "slow", TimeSpan.FromSeconds(30));
        var firstCheckpoint = Episode(first, Actions.ScheduleTask(0, "First", null));

        Time.Advance(TimeSpan.FromSeconds(29));
        await AssertNoOrchestrationWorkAsync(store);
        Time.Advance(TimeSpan.FromSeconds(2));
        var second = await LockAsync(store, "slow", TimeSpan.FromSeconds(30));

        Assert.Equal(first.NewMessages, second.NewMessages);
        await Assert.ThrowsAsync<LeaseLostException>(() => store.CompleteOrchestrationAsync(first, firstCheckpoint, Ct));
        Assert.False(store.RenewLease(first, TimeSpan.FromMinutes(1)));
        var secondCheckpoint = await RunEpisodeAsync(store, second, Actions.ScheduleTask(0, "Second", null));
        Assert.Equal(secondCheckpoint.NewHistory, await store.GetHistoryAsync("slow", null, Ct));
        var activity = await store.TryLockActivityAsync(Lease, Ct);
        Assert.Equal("Second", activity?.Request.Name);
        await AssertNoActivityWorkAsync(store);
    }

    [Fact]
    public async Task A_renewed_lease_keeps_the_work_item()
    {
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "slow");
        var workItem = await LockAsync(store, "slow", TimeSpan.FromSeconds(30));

        for (var i = 0; i < 4; i++)
        {
            Time.Advance(TimeSpan.FromSeconds(20));
            Assert.True(store.RenewLease(workItem, TimeSpan.FromSeconds(30)));
            await AssertNoOrchestrationWorkAsync(store);
        }

        await RunEpisodeAsync(store, workItem);
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await GetAsync(store, "slow")).Status);
        Assert.False(store.RenewLease(workItem, TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task An_abandoned_work_item_is_offered_again_after_the_delay()
    {
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "retry");
        var first = await LockAsync(store, "retry");

        await store.AbandonOrchestrationAsync(first, TimeSpan.FromSeconds(10), Ct);
        await store.SendMessageAsync("retry", Messages.Event("meanwhile"), Ct);

        await AssertNoOrchestrationWorkAsync(store);
        Time.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromMilliseconds(1));
        await AssertNoOrchestrationWorkAsync(store);
        Time.Advance(TimeSpan.FromMilliseconds(1));
        var second = await LockAsync(store, "retry");
        Assert.Equal([EventType.ExecutionStarted, EventType.EventRaised], Kinds(second.NewMessages));
        Assert.Equal(first.NewMessages[0], second.NewMessages[0]);
        await Assert.ThrowsAsync<LeaseLostException>(() => store.CompleteOrchestrationAsync(first, Episode(first), Ct));
    }

    [Fact]
    public async Task An_abandoned_work_item_without_delay_is_offered_at_once()
    {
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "retry");
        var first = await LockAsync(store, "retry");

        await store.AbandonOrchestrationAsync(first, TimeSpan.Zero, Ct);

        var second = await LockAsync(store, "retry");
        Assert.Equal(first.NewMessages, second.NewMessages);
    }

    [Fact]
    public async Task An_expired_activity_lease_hands_the_activity_out_again_and_the_first_result_is_refused()
    {
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "w");
        await RunNextEpisodeAsync(store, "w", Actions.ScheduleTask(0, "Slow", "1"));
        var first = await store.TryLockActivityAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.NotNull(first);

        Time.Advance(TimeSpan.FromSeconds(31));
        var second = await store.TryLockActivityAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.NotNull(second);
        Assert.Equal(first.Request, second.Request);
        await Assert.ThrowsAsync<LeaseLostException>(() => store.CompleteActivityAsync(first, Messages.TaskCompleted(0, "\"first\"", Now), Ct));
        await AssertNoOrchestrationWorkAsync(store);
        await store.CompleteActivityAsync(second, Messages.TaskCompleted(0, "\"second\"", Now), Ct);
        Assert.Equal("\"second\"", Assert.Single((await LockAsync(store, "w")).NewMessages).TaskCompleted.Result);
    }

    [Fact]
    public async Task A_renewed_activity_lease_keeps_the_activity()
    {
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "w");
        await RunNextEpisodeAsync(store, "w", Actions.ScheduleTask(0, "Slow", null));
        var activity = await store.TryLockActivityAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.NotNull(activity);

        Time.Advance(TimeSpan.FromSeconds(20));
        Assert.True(store.RenewLease(activity, TimeSpan.FromSeconds(30)));
        Time.Advance(TimeSpan.FromSeconds(20));

        await AssertNoActivityWorkAsync(store);
        await store.CompleteActivityAsync(activity, Messages.TaskCompleted(0, null, Now), Ct);
        Assert.Single((await LockAsync(store, "w")).NewMessages);
    }

    [Fact]
    public async Task An_abandoned_activity_runs_again_after_the_delay()
    {
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "w");
        await RunNextEpisodeAsync(store, "w", Actions.ScheduleTask(0, "Flaky", null));
        var first = await store.TryLockActivityAsync(Lease, Ct);
        Assert.NotNull(first);

        await store.AbandonActivityAsync(first, TimeSpan.FromSeconds(5), Ct);

        await AssertNoActivityWorkAsync(store);
        Time.Advance(TimeSpan.FromSeconds(5));
        var second = await store.TryLockActivityAsync(Lease, Ct);
        Assert.NotNull(second);
        Assert.Equal(first.Request, second.Request);
        await Assert.ThrowsAsync<LeaseLostException>(() => store.CompleteActivityAsync(first, Messages.TaskCompleted(0, null, Now), Ct));
    }

    [Fact]
    public async Task An_expired_entity_lease_hands_the_batch_out_again_and_the_first_holder_loses_it()
    {
        var (store, _) = await NewStoreAsync();
        var counter = new EntityInstanceId("counter", "1");
        await store.SignalEntityAsync(counter, "add", "1", null, Ct);
        var first = await store.TryLockEntityAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.NotNull(first);

        Time.Advance(TimeSpan.FromSeconds(31));
        var second = await store.TryLockEntityAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.NotNull(second);
        Assert.Equal(first.Operations, second.Operations);
        await Assert.ThrowsAsync<LeaseLostException>(() => store.CompleteEntityAsync(first, BatchResult(first, "1"), Ct));
        await store.CompleteEntityAsync(second, BatchResult(second, "2"), Ct);
        Assert.Equal("2", (await store.GetEntityAsync(counter, includeState: true, Ct))?.SerializedState);
    }

    [Fact]
    public async Task An_abandoned_entity_batch_is_offered_again_after_the_delay()
    {
        var (store, _) = await NewStoreAsync();
        var counter = new EntityInstanceId("counter", "1");
        await store.SignalEntityAsync(counter, "add", "1", null, Ct);
        var first = await store.TryLockEntityAsync(Lease, Ct);
        Assert.NotNull(first);

        await store.AbandonEntityAsync(first, TimeSpan.FromSeconds(3), Ct);

        await AssertNoEntityWorkAsync(store);
        Time.Advance(TimeSpan.FromSeconds(3));
        var second = await store.TryLockEntityAsync(Lease, Ct);
        Assert.NotNull(second);
        Assert.Equal(first.Operations, second.Operations);
        Assert.Null((await store.GetEntityAsync(counter, includeState: true, Ct))?.SerializedState);
    }
}
