using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Tests.Harness;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Engine.Tests.Entities;

public sealed class EntityRestartTests
{
    [Fact]
    public async Task Lock_held_across_a_restart_stays_with_its_holder_and_is_released_when_it_finishes()
    {
        var gate = new Gate();
        void Register(DurableTaskRegistry r) => EntityTestApp.Register(r, gate, new OverlapDetector());
        await using var harness = await EngineHarness.StartAsync(Register);
        var id = EntityTestApp.CounterId("r");
        var holder = await harness.ScheduleAsync("holder", "r", "r-holder");
        await gate.WaitForArrivalAsync(harness.Token);
        var waiter = await harness.ScheduleAsync("lock-and-add", new CounterCall("r", "Add", 10), "r-waiter");
        await harness.WaitForHistoryAsync(waiter, h => h.IndexOf(Kind.EntityLockRequested) >= 0, "to request the lock");

        await harness.RestartAsync(Register);

        var afterRestart = await harness.Client.Entities.GetEntityRecordAsync(id, cancellation: harness.Token);
        Assert.Equal("r-holder", afterRestart?.LockedBy);
        Assert.Equal("1", afterRestart?.SerializedState);
        Assert.Equal(1, afterRestart?.BacklogQueueSize);
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await harness.Client.GetInstanceRecordAsync(holder, cancellation: harness.Token))?.Status);

        // The interrupted activity runs again on the new worker, still inside the critical section.
        await gate.WaitForArrivalAsync(harness.Token);
        Assert.Equal(2, gate.Entries);
        Assert.Equal("r-holder", (await harness.Client.Entities.GetEntityRecordAsync(id, cancellation: harness.Token))?.LockedBy);
        gate.Release();
        var held = await harness.WaitForCompletionAsync(holder);
        var next = await harness.WaitForCompletionAsync(waiter);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, held.Status);
        Assert.Equal(2, held.Output<int>());
        Assert.Equal(12, next.Output<int>());
        var history = await harness.HistoryAsync(holder);
        Assert.Equal(1, history.Count(Kind.EntityLockRequested));
        Assert.Equal(1, history.Count(Kind.EntityUnlockSent));
        Assert.Equal(12, (await harness.RunAsync(EntityTestApp.ReadCounter, "r")).Output<int>());
        var all = await harness.Client.Entities.QueryEntityRecordsAsync(new EntityListQuery { IncludeTransient = true }, harness.Token);
        Assert.NotEmpty(all.Entities);
        Assert.All(all.Entities, e => Assert.Null(e.LockedBy));
    }

    [Fact]
    public async Task Clean_entity_storage_releases_locks_of_vanished_holders_and_then_removes_empty_entities()
    {
        var gate = new Gate();
        void Register(DurableTaskRegistry r)
        {
            EntityTestApp.Register(r, gate, new OverlapDetector());
            r.AddOrchestratorFunc<string?, int>("two-lock-holder", async (ctx, _) =>
            {
                var stateful = EntityTestApp.CounterId("orphan-stateful");
                await using (await ctx.Entities.LockEntitiesAsync(stateful, EntityTestApp.CounterId("orphan-empty")))
                {
                    await ctx.Entities.CallEntityAsync<int>(stateful, "Add", 5);
                    await ctx.CallActivityAsync("blocking", ctx.InstanceId);
                    return 0;
                }
            });
        }

        await using var harness = await EngineHarness.StartAsync(Register);
        await harness.ScheduleAsync("two-lock-holder", null, "vanishing");
        await gate.WaitForArrivalAsync(harness.Token);
        await harness.ScheduleAsync("holder", "live", "live-holder");
        await gate.WaitForArrivalAsync(harness.Token);
        var waiter = await harness.ScheduleAsync("lock-and-add", new CounterCall("orphan-stateful", "Add", 10), "orphan-waiter");
        await harness.WaitForHistoryAsync(waiter, h => h.IndexOf(Kind.EntityLockRequested) >= 0, "to request the lock");

        // The lock holder's rows disappear while the engine is down (an operator deleted them, a restore lost them):
        // the entities still name it as their lock holder.
        await harness.RestartAsync(Register, async backend =>
        {
            var batch = new StoreBatch();
            batch.DeleteInstances.Add("vanishing");
            await backend.CommitAsync(batch, harness.Token);
        });
        Assert.Null(await harness.Client.GetInstanceRecordAsync("vanishing", cancellation: harness.Token));
        Assert.Equal("vanishing", (await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("orphan-stateful"), cancellation: harness.Token))?.LockedBy);
        Assert.Equal("vanishing", (await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("orphan-empty"), cancellation: harness.Token))?.LockedBy);
        await gate.WaitForArrivalAsync(harness.Token);

        var released = await harness.Client.Entities.CleanEntityStorageAsync(new() { RemoveEmptyEntities = false, ReleaseOrphanedLocks = true }, cancellation: harness.Token);

        Assert.Equal((0, 2), (released.EmptyEntitiesRemoved, released.OrphanedLocksReleased));
        Assert.Equal(15, (await harness.WaitForCompletionAsync(waiter)).Output<int>());
        Assert.Equal("live-holder", (await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("live"), cancellation: harness.Token))?.LockedBy);
        var empty = await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("orphan-empty"), cancellation: harness.Token);
        Assert.NotNull(empty);
        Assert.Null(empty.LockedBy);
        Assert.Null(empty.SerializedState);

        var removed = await harness.Client.Entities.CleanEntityStorageAsync(new() { RemoveEmptyEntities = true, ReleaseOrphanedLocks = false }, cancellation: harness.Token);

        Assert.Equal((1, 0), (removed.EmptyEntitiesRemoved, removed.OrphanedLocksReleased));
        Assert.Null(await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("orphan-empty"), cancellation: harness.Token));
        Assert.Equal(15, (await harness.RunAsync(EntityTestApp.ReadCounter, "orphan-stateful")).Output<int>());

        gate.Release();
        Assert.Equal(2, (await harness.WaitForCompletionAsync("live-holder")).Output<int>());
        Assert.Equal(2, (await harness.RunAsync(EntityTestApp.ReadCounter, "live")).Output<int>());
        var again = await harness.Client.Entities.CleanEntityStorageAsync(cancellation: harness.Token);
        Assert.Equal((0, 0), (again.EmptyEntitiesRemoved, again.OrphanedLocksReleased));
    }
}
