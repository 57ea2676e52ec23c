using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using EventType = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Storage.Tests;

public abstract partial class OrchestrationStoreConformance
{
    private static readonly EntityInstanceId Counter = new("Counter", "a");

    /// <summary>Locks the next entity batch, which must be <paramref name="entity"/>'s.</summary>
    private static async Task<EntityWorkItem> LockEntityAsync(IOrchestrationStore store, EntityInstanceId entity)
    {
        var workItem = await store.TryLockEntityAsync(Lease, Ct);
        Assert.NotNull(workItem);
        Assert.Equal(entity.ToString(), workItem.InstanceId);
        return workItem;
    }

    private static async Task<EntityMetadata> GetEntityAsync(IOrchestrationStore store, EntityInstanceId entity)
    {
        var metadata = await store.GetEntityAsync(entity, includeState: true, Ct);
        Assert.NotNull(metadata);
        return metadata;
    }

    /// <summary>Has "holder" (running) take the lock of <paramref name="entities"/> in critical section <paramref name="section"/> and see it granted.</summary>
    private async Task AcquireLockAsync(IOrchestrationStore store, string holder, string section, params EntityInstanceId[] entities)
    {
        await WakeAsync(store, holder, Actions.LockEntities(100, section, [.. entities.Select(e => e.ToString())]));
        await AssertNoEntityWorkAsync(store);
        var granted = await LockAsync(store, holder);
        Assert.Equal(section, Assert.Single(granted.NewMessages).EntityLockGranted?.CriticalSectionId);
        await RunEpisodeAsync(store, granted);
    }

    [Fact]
    public async Task A_signal_creates_the_entity_and_its_batch_result_persists_the_state()
    {
        var (store, _) = await NewStoreAsync();

        await store.SignalEntityAsync(Counter, "add", "5", null, Ct);

        var transient = await GetEntityAsync(store, Counter);
        Assert.Equal(Counter, transient.Id);
        Assert.Null(transient.SerializedState);
        Assert.Equal(1, transient.BacklogQueueSize);
        var batch = await LockEntityAsync(store, Counter);
        Assert.Null(batch.Entity.SerializedState);
        var signal = Assert.Single(batch.Operations).EntityOperationSignaled;
        Assert.NotNull(signal);
        Assert.Equal("add", signal.Operation);
        Assert.Equal("5", signal.Input);
        await store.CompleteEntityAsync(batch, BatchResult(batch, "5"), Ct);

        var saved = await GetEntityAsync(store, Counter);
        Assert.Equal("5", saved.SerializedState);
        Assert.Equal(0, saved.BacklogQueueSize);
        Assert.Null((await store.GetEntityAsync(Counter, includeState: false, Ct))?.SerializedState);
        await AssertNoEntityWorkAsync(store);
        await store.SignalEntityAsync(Counter, "add", "2", null, Ct);
        var next = await LockEntityAsync(store, Counter);
        Assert.Equal("5", next.Entity.SerializedState);
    }

    [Fact]
    public async Task Signals_waiting_together_come_in_one_batch_in_order()
    {
        var (store, _) = await NewStoreAsync();

        foreach (var op in new[] { "one", "two", "three" })
        {
            await store.SignalEntityAsync(Counter, op, null, null, Ct);
        }

        var batch = await LockEntityAsync(store, Counter);
        Assert.Equal(["one", "two", "three"], batch.Operations.Select(o => o.EntityOperationSignaled.Operation));
        await store.SignalEntityAsync(Counter, "four", null, null, Ct);
        await AssertNoEntityWorkAsync(store);
        await store.CompleteEntityAsync(batch, BatchResult(batch, "3"), Ct);
        Assert.Equal("four", Assert.Single((await LockEntityAsync(store, Counter)).Operations).EntityOperationSignaled.Operation);
    }

    [Fact]
    public async Task A_scheduled_signal_is_delivered_only_at_its_time()
    {
        var (store, _) = await NewStoreAsync();

        await store.SignalEntityAsync(Counter, "later", null, Now.AddMinutes(2), Ct);

        await AssertNoEntityWorkAsync(store);
        Time.Advance(TimeSpan.FromMinutes(2) - TimeSpan.FromMilliseconds(1));
        await AssertNoEntityWorkAsync(store);
        Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal("later", Assert.Single((await LockEntityAsync(store, Counter)).Operations).EntityOperationSignaled.Operation);
    }

    [Fact]
    public async Task An_entity_whose_state_is_deleted_disappears()
    {
        var (store, _) = await NewStoreAsync();
        await store.SignalEntityAsync(Counter, "set", "1", null, Ct);
        var set = await LockEntityAsync(store, Counter);
        await store.CompleteEntityAsync(set, BatchResult(set, "1"), Ct);

        await store.SignalEntityAsync(Counter, "delete", null, null, Ct);
        var delete = await LockEntityAsync(store, Counter);
        await store.CompleteEntityAsync(delete, BatchResult(delete, null), Ct);

        Assert.Null(await store.GetEntityAsync(Counter, includeState: true, Ct));
    }

    [Fact]
    public async Task A_failed_batch_leaves_the_state_as_it_was_and_fails_the_callers()
    {
        var (store, _) = await NewStoreAsync();
        await store.SignalEntityAsync(Counter, "set", null, null, Ct);
        var set = await LockEntityAsync(store, Counter);
        await store.CompleteEntityAsync(set, BatchResult(set, "1"), Ct);
        await CreateRunningAsync(store, "caller");
        await WakeAsync(store, "caller", Actions.CallEntity(0, Counter.ToString(), "explode", "req-1"));

        var batch = await LockEntityAsync(store, Counter);
        await store.CompleteEntityAsync(
            batch,
            new Microsoft.DurableTask.Protobuf.EntityBatchResult { FailureDetails = new Microsoft.DurableTask.Protobuf.TaskFailureDetails { ErrorType = "Broken", ErrorMessage = "no" } },
            Ct);

        Assert.Equal("1", (await GetEntityAsync(store, Counter)).SerializedState);
        var failed = Assert.Single((await LockAsync(store, "caller")).NewMessages).EntityOperationFailed;
        Assert.NotNull(failed);
        Assert.Equal("req-1", failed.RequestId);
        Assert.Equal("Broken", failed.FailureDetails.ErrorType);
    }

    [Fact]
    public async Task An_entity_call_from_an_orchestration_gets_its_response()
    {
        var (store, _) = await NewStoreAsync();
        await CreateRunningAsync(store, "caller");

        await WakeAsync(store, "caller", Actions.CallEntity(0, Counter.ToString(), "get", "req-1", "\"in\""));

        var batch = await LockEntityAsync(store, Counter);
        var call = Assert.Single(batch.Operations).EntityOperationCalled;
        Assert.NotNull(call);
        Assert.Equal("get", call.Operation);
        Assert.Equal("\"in\"", call.Input);
        Assert.Equal("caller", call.ParentInstanceId);
        await AssertNoOrchestrationWorkAsync(store);
        await store.CompleteEntityAsync(batch, BatchResult(batch, "0", "\"out\""), Ct);
        var completed = Assert.Single((await LockAsync(store, "caller")).NewMessages).EntityOperationCompleted;
        Assert.NotNull(completed);
        Assert.Equal("req-1", completed.RequestId);
        Assert.Equal("\"out\"", completed.Output);
    }

    [Fact]
    public async Task A_signal_sent_by_an_orchestration_reaches_the_entity()
    {
        var (store, _) = await NewStoreAsync();
        await CreateRunningAsync(store, "sender");

        await WakeAsync(store, "sender", Actions.SignalEntity(0, Counter.ToString(), "poke", "1"));

        var signal = Assert.Single((await LockEntityAsync(store, Counter)).Operations).EntityOperationSignaled;
        Assert.Equal("poke", signal.Operation);
        Assert.Equal("1", signal.Input);
    }

    [Fact]
    public async Task Lock_requests_are_granted_in_order_and_the_holders_messages_jump_the_queue()
    {
        var (store, _) = await NewStoreAsync();
        var entity = Counter.ToString();
        await CreateRunningAsync(store, "A");
        await CreateRunningAsync(store, "B");

        await AcquireLockAsync(store, "A", "cs-a", Counter);
        var locked = await GetEntityAsync(store, Counter);
        Assert.Equal("A", locked.LockedBy);
        Assert.Equal("cs-a", locked.CriticalSectionId);

        await WakeAsync(store, "B", Actions.LockEntities(0, "cs-b", entity));
        await store.SignalEntityAsync(Counter, "outsider", null, null, Ct);
        await AssertNoEntityWorkAsync(store);
        await AssertNoOrchestrationWorkAsync(store);
        Assert.Equal("A", (await GetEntityAsync(store, Counter)).LockedBy);
        Assert.Equal(2, (await GetEntityAsync(store, Counter)).BacklogQueueSize);

        await WakeAsync(store, "A", Actions.CallEntity(0, entity, "inside", "req-a"));
        var inside = await LockEntityAsync(store, Counter);
        Assert.Equal("inside", Assert.Single(inside.Operations).EntityOperationCalled?.Operation);
        await store.CompleteEntityAsync(inside, BatchResult(inside, "1", "\"ok\""), Ct);
        Assert.Equal("req-a", Assert.Single((await LockAsync(store, "A")).NewMessages).EntityOperationCompleted?.RequestId);
        await AssertNoEntityWorkAsync(store);
    }

    [Fact]
    public async Task Releasing_a_lock_grants_it_to_the_next_requester_before_waiting_operations()
    {
        var (store, _) = await NewStoreAsync();
        var entity = Counter.ToString();
        await CreateRunningAsync(store, "A");
        await CreateRunningAsync(store, "B");
        await AcquireLockAsync(store, "A", "cs-a", Counter);
        await WakeAsync(store, "B", Actions.LockEntities(0, "cs-b", entity));
        await store.SignalEntityAsync(Counter, "outsider", null, null, Ct);

        await WakeAsync(store, "A", Actions.UnlockEntity(0, "cs-a", entity));
        await AssertNoEntityWorkAsync(store);

        var metadata = await GetEntityAsync(store, Counter);
        Assert.Equal("B", metadata.LockedBy);
        Assert.Equal("cs-b", metadata.CriticalSectionId);
        Assert.Equal(1, metadata.BacklogQueueSize);
        var granted = await LockAsync(store, "B");
        Assert.Equal("cs-b", Assert.Single(granted.NewMessages).EntityLockGranted?.CriticalSectionId);
        await RunEpisodeAsync(store, granted, Actions.UnlockEntity(1, "cs-b", entity));
        Assert.Equal("outsider", Assert.Single((await LockEntityAsync(store, Counter)).Operations).EntityOperationSignaled?.Operation);
        Assert.Null((await GetEntityAsync(store, Counter)).LockedBy);
    }

    [Fact]
    public async Task A_lock_on_several_entities_is_granted_once_all_of_them_are_held()
    {
        var (store, _) = await NewStoreAsync();
        var first = new EntityInstanceId("account", "1");
        var second = new EntityInstanceId("account", "2");
        await CreateRunningAsync(store, "A");
        await CreateRunningAsync(store, "B");
        await AcquireLockAsync(store, "B", "cs-b", second);

        await WakeAsync(store, "A", Actions.LockEntities(0, "cs-a", first.ToString(), second.ToString()));
        await AssertNoEntityWorkAsync(store);

        Assert.Equal("A", (await GetEntityAsync(store, first)).LockedBy);
        Assert.Equal("B", (await GetEntityAsync(store, second)).LockedBy);
        await AssertNoOrchestrationWorkAsync(store);
        await WakeAsync(store, "B", Actions.UnlockEntity(0, "cs-b", second.ToString()));
        await AssertNoEntityWorkAsync(store);
        Assert.Equal("A", (await GetEntityAsync(store, second)).LockedBy);
        var granted = await LockAsync(store, "A");
        Assert.Equal("cs-a", Assert.Single(granted.NewMessages).EntityLockGranted?.CriticalSectionId);
    }

    [Fact]
    public async Task A_lock_request_from_an_instance_that_finished_before_its_turn_is_skipped()
    {
        var (store, _) = await NewStoreAsync();
        var entity = Counter.ToString();
        await CreateRunningAsync(store, "A");
        await CreateRunningAsync(store, "B");
        await CreateRunningAsync(store, "C");
        await AcquireLockAsync(store, "A", "cs-a", Counter);
        await WakeAsync(store, "B", Actions.LockEntities(0, "cs-b", entity));
        await WakeAsync(store, "C", Actions.LockEntities(0, "cs-c", entity));
        await store.SendMessageAsync("B", Messages.Terminate(), Ct);
        await RunNextEpisodeAsync(store, "B");
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, (await GetAsync(store, "B")).Status);

        await WakeAsync(store, "A", Actions.UnlockEntity(0, "cs-a", entity));
        await AssertNoEntityWorkAsync(store);

        Assert.Equal("C", (await GetEntityAsync(store, Counter)).LockedBy);
        Assert.Equal("cs-c", Assert.Single((await LockAsync(store, "C")).NewMessages).EntityLockGranted?.CriticalSectionId);
        await AssertNoOrchestrationWorkAsync(store);
    }

    [Fact]
    public async Task Query_entities_pages_by_id_and_separates_transient_entities()
    {
        var (store, _) = await NewStoreAsync();
        for (var i = 0; i < 20; i++)
        {
            await store.SignalEntityAsync(new EntityInstanceId("counter", $"k{i:D2}"), "set", null, null, Ct);
        }

        await store.SignalEntityAsync(new EntityInstanceId("other", "x"), "set", null, null, Ct);
        while (await store.TryLockEntityAsync(Lease, Ct) is { } batch)
        {
            await store.CompleteEntityAsync(batch, BatchResult(batch, $"\"{batch.InstanceId}\""), Ct);
        }

        await store.SignalEntityAsync(new EntityInstanceId("counter", "t0"), "later", null, Now.AddDays(1), Ct);
        await store.SignalEntityAsync(new EntityInstanceId("counter", "t1"), "later", null, Now.AddDays(1), Ct);

        async Task<List<EntityMetadata>> ListAsync(EntityListQuery query)
        {
            var all = new List<EntityMetadata>();
            string? token = null;
            do
            {
                var page = await store.QueryEntitiesAsync(query with { ContinuationToken = token }, Ct);
                Assert.True(page.Entities.Count <= query.PageSize);
                all.AddRange(page.Entities);
                token = page.ContinuationToken;
            }
            while (token is not null);
            return all;
        }

        var stateful = await ListAsync(new EntityListQuery { InstanceIdStartsWith = "@counter@", PageSize = 7, IncludeState = true });
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"@counter@k{i:D2}"), stateful.Select(e => e.Id.ToString()));
        Assert.All(stateful, e => Assert.Equal($"\"{e.Id}\"", e.SerializedState));
        var withTransient = await ListAsync(new EntityListQuery { InstanceIdStartsWith = "@counter@", PageSize = 7, IncludeTransient = true });
        Assert.Equal(22, withTransient.Count);
        Assert.Equal(withTransient.Select(e => e.Id.ToString()).Order(StringComparer.Ordinal), withTransient.Select(e => e.Id.ToString()));
        Assert.All(withTransient, e => Assert.Null(e.SerializedState));
        Assert.Equal(1, withTransient.Single(e => e.Id.Key == "t0").BacklogQueueSize);
        var everything = await ListAsync(new EntityListQuery { PageSize = 5 });
        Assert.Equal(21, everything.Count);
        Assert.Contains(everything, e => e.Id.Name == "other");
    }

    [Fact]
    public async Task Cleaning_entity_storage_releases_orphaned_locks_and_removes_empty_entities()
    {
        var (store, _) = await NewStoreAsync();
        var kept = new EntityInstanceId("counter", "kept");
        await store.SignalEntityAsync(kept, "set", null, null, Ct);
        var set = await LockEntityAsync(store, kept);
        await store.CompleteEntityAsync(set, BatchResult(set, "1"), Ct);
        await CreateRunningAsync(store, "A");
        await AcquireLockAsync(store, "A", "cs-a", Counter);
        await WakeAsync(store, "A", Actions.Complete(0, null));

        Assert.Equal(new CleanEntityStorageResult(0, 0), await store.CleanEntityStorageAsync(removeEmptyEntities: false, releaseOrphanedLocks: false, Ct));
        Assert.Equal(new CleanEntityStorageResult(0, 0), await store.CleanEntityStorageAsync(removeEmptyEntities: true, releaseOrphanedLocks: false, Ct));
        Assert.Equal("A", (await GetEntityAsync(store, Counter)).LockedBy);

        var result = await store.CleanEntityStorageAsync(removeEmptyEntities: true, releaseOrphanedLocks: true, Ct);

        Assert.Equal(new CleanEntityStorageResult(1, 1), result);
        Assert.Null(await store.GetEntityAsync(Counter, includeState: true, Ct));
        Assert.Equal("1", (await GetEntityAsync(store, kept)).SerializedState);
        Assert.Equal(new CleanEntityStorageResult(0, 0), await store.CleanEntityStorageAsync(removeEmptyEntities: true, releaseOrphanedLocks: true, Ct));
    }

    [Fact]
    public async Task Releasing_an_orphaned_lock_lets_the_waiting_operations_run()
    {
        var (store, _) = await NewStoreAsync();
        await CreateRunningAsync(store, "A");
        await AcquireLockAsync(store, "A", "cs-a", Counter);
        await WakeAsync(store, "A", Actions.Complete(0, null));
        await store.SignalEntityAsync(Counter, "waiting", null, null, Ct);
        await AssertNoEntityWorkAsync(store);

        var result = await store.CleanEntityStorageAsync(removeEmptyEntities: true, releaseOrphanedLocks: true, Ct);

        Assert.Equal(new CleanEntityStorageResult(0, 1), result);
        var batch = await LockEntityAsync(store, Counter);
        Assert.Equal("waiting", Assert.Single(batch.Operations).EntityOperationSignaled?.Operation);
        Assert.Equal(EventType.EntityOperationSignaled, batch.Operations[0].EventTypeCase);
    }
}
