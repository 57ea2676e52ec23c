using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Tests.Harness;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Engine.Tests.Entities;

/// <summary>
/// Calls made inside a critical section run in the caller's own checkpoint when the entity is idle: they must leave the
/// same history, state and failures as calls through the entity's inbox.
/// </summary>
public sealed class InlineEntityCallTests
{
    private static void Register(DurableTaskRegistry r)
    {
        EntityTestApp.Register(r, new Gate(), new OverlapDetector());

        // Three calls and a failing one inside one critical section, then one call after it.
        r.AddOrchestratorFunc<string, string>("calls-in-section", async (ctx, key) =>
        {
            var id = EntityTestApp.CounterId(key);
            var seen = new List<int>();
            string failure;
            await using (await ctx.Entities.LockEntitiesAsync(id))
            {
                seen.Add(await ctx.Entities.CallEntityAsync<int>(id, "Add", 1));
                seen.Add(await ctx.Entities.CallEntityAsync<int>(id, "Add", 10));
                try
                {
                    await ctx.Entities.CallEntityAsync(id, "Fail", "no");
                    failure = "none";
                }
                catch (EntityOperationFailedException ex)
                {
                    failure = ex.FailureDetails.ErrorMessage;
                }

                seen.Add(await ctx.Entities.CallEntityAsync<int>(id, "Get"));
            }

            seen.Add(await ctx.Entities.CallEntityAsync<int>(id, "Add", 100));
            return $"{string.Join(",", seen)};{failure}";
        });
    }

    [Fact]
    public async Task Calls_inside_a_critical_section_run_in_the_callers_checkpoint_with_the_same_results()
    {
        await using var harness = await EngineHarness.StartAsync(Register);
        var entity = EntityTestApp.CounterId("inline").ToString();

        var id = await harness.ScheduleAsync("calls-in-section", "inline", "inline-run");
        var done = await harness.WaitForCompletionAsync(id);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal("1,11,11,111;no", done.Output<string>());

        // The lock was granted inline, and the four calls inside the section ran under its lease; the one after the
        // release went through the inbox.
        Assert.Equal(1, harness.Observed.SectionLocksOf(entity));
        Assert.Equal(0, harness.Observed.InlineLeasesOf(entity));
        Assert.Equal(1, harness.Observed.InboxOperationsOf(entity));

        var state = await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("inline"), includeState: true, harness.Token);
        Assert.Equal("111", state?.SerializedState);
        Assert.Null(state?.LockedBy);

        // The history reads as it would through the inbox: each call, then its answer in the next episode.
        var history = await harness.HistoryAsync(id);
        Assert.Equal(5, history.Count(Kind.EntityOperationCalled));
        Assert.Equal(4, history.Count(Kind.EntityOperationCompleted));
        Assert.Equal(1, history.Count(Kind.EntityOperationFailed));
        var kinds = history.Select(e => e.EventTypeCase).ToList();
        for (var i = 0; i < kinds.Count; i++)
        {
            if (kinds[i] is Kind.EntityOperationCompleted or Kind.EntityOperationFailed)
            {
                Assert.Equal(Kind.OrchestratorStarted, kinds[i - 1]);
            }
        }
    }

    [Fact]
    public async Task A_call_without_the_lock_goes_through_the_inbox()
    {
        await using var harness = await EngineHarness.StartAsync(Register);
        var entity = EntityTestApp.CounterId("outside").ToString();

        var id = await harness.ScheduleAsync("counter-call", new CounterCall("outside", "Add", 5), "outside-run");
        var done = await harness.WaitForCompletionAsync(id);

        Assert.Equal(5, done.Output<int>());
        Assert.Equal(0, harness.Observed.InlineLeasesOf(entity));
        Assert.Equal(1, harness.Observed.InboxOperationsOf(entity));
    }

    [Fact]
    public async Task An_operation_that_sends_messages_of_its_own_goes_through_the_inbox()
    {
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            Register(r);
            r.AddOrchestratorFunc<string, int>("relay-in-section", async (ctx, key) =>
            {
                var relay = new EntityInstanceId("relay", key);
                await using (await ctx.Entities.LockEntitiesAsync(relay))
                {
                    return await ctx.Entities.CallEntityAsync<int>(relay, "Forward", new ForwardRequest(key, 7, $"read-{key}"));
                }
            });
        });

        var id = await harness.ScheduleAsync("relay-in-section", "r1", "relay-run");
        Assert.Equal(1, (await harness.WaitForCompletionAsync(id)).Output<int>());

        // The lock was granted inline; the operation ran once on the worker's first try and was given back (the entity
        // stayed held for the lock), then ran from the inbox with its signal.
        var read = await harness.WaitForCompletionAsync("read-r1");
        Assert.Equal(OrchestrationRuntimeStatus.Completed, read.Status);
        var counter = await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("r1"), includeState: true, harness.Token);
        Assert.Equal("7", counter?.SerializedState);
        Assert.Equal(1, harness.Observed.SectionLocksOf(new EntityInstanceId("relay", "r1").ToString()));
        Assert.Equal(1, harness.Observed.InboxOperationsOf(new EntityInstanceId("relay", "r1").ToString()));
    }

    [Fact]
    public async Task A_free_lock_is_granted_in_the_requesting_checkpoint_with_the_calls_under_it()
    {
        await using var harness = await EngineHarness.StartAsync(Register);
        var checkpoints = new List<OrchestrationCheckpoint>();
        harness.Observed.BeforeOrchestrationCommit = (workItem, checkpoint) =>
        {
            lock (checkpoints)
            {
                checkpoints.Add(checkpoint);
            }

            return Task.CompletedTask;
        };
        var entity = EntityTestApp.CounterId("free").ToString();

        var done = await harness.RunAsync("lock-and-add", new CounterCall("free", "Add", 5), "free-run");

        Assert.Equal(5, done.Output<int>());
        Assert.Equal(1, harness.Observed.SectionLocksOf(entity));
        Assert.Equal(0, harness.Observed.InboxOperationsOf(entity));

        // The request, the grant, the call, its answer, the release and the end: one checkpoint, one commit.
        var checkpoint = Assert.Single(checkpoints);
        var kinds = checkpoint.NewHistory.Select(e => e.EventTypeCase).Where(k => k is not (Kind.OrchestratorStarted or Kind.OrchestratorCompleted)).ToList();
        Assert.Equal(
            [Kind.ExecutionStarted, Kind.EntityLockRequested, Kind.EntityLockGranted, Kind.EntityOperationCalled, Kind.EntityOperationCompleted, Kind.EntityUnlockSent, Kind.ExecutionCompleted],
            kinds);
        Assert.Equal(checkpoint.NewHistory, await harness.HistoryAsync("free-run"));

        var state = await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("free"), includeState: true, harness.Token);
        Assert.Equal("5", state?.SerializedState);
        Assert.Null(state?.LockedBy);
    }

    [Fact]
    public async Task A_lock_set_of_several_free_entities_is_granted_at_once()
    {
        await using var harness = await EngineHarness.StartAsync(Register);

        var done = await harness.RunAsync("lock-all", new[] { "set-a", "set-b" }, "set-run");

        Assert.Equal(2, done.Output<int>());
        foreach (var key in new[] { "set-a", "set-b" })
        {
            Assert.Equal(1, harness.Observed.SectionLocksOf(EntityTestApp.CounterId(key).ToString()));
            Assert.Equal(0, harness.Observed.InboxOperationsOf(EntityTestApp.CounterId(key).ToString()));
            var state = await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId(key), includeState: true, harness.Token);
            Assert.Equal("1", state?.SerializedState);
            Assert.Null(state?.LockedBy);
        }

        var history = await harness.HistoryAsync("set-run");
        Assert.Equal(1, history.Count(Kind.EntityLockRequested));
        Assert.Equal(1, history.Count(Kind.EntityLockGranted));
    }

    [Fact]
    public async Task A_held_lock_is_requested_through_the_inbox_and_granted_at_the_release()
    {
        var gate = new Gate();
        await using var harness = await EngineHarness.StartAsync(r => EntityTestApp.Register(r, gate, new OverlapDetector()));
        var entity = EntityTestApp.CounterId("held").ToString();

        var holder = await harness.ScheduleAsync("holder", "held", "held-holder");
        await gate.WaitForArrivalAsync(harness.Token);
        var waiter = await harness.ScheduleAsync("lock-and-add", new CounterCall("held", "Add", 10), "held-waiter");
        await harness.WaitForHistoryAsync(waiter, h => h.IndexOf(Kind.EntityLockRequested) >= 0, "to request the lock");
        var locked = await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("held"), cancellation: harness.Token);
        Assert.Equal("held-holder", locked?.LockedBy);
        Assert.Equal(1, harness.Observed.SectionLocksOf(entity));

        gate.Release();
        Assert.Equal(2, (await harness.WaitForCompletionAsync(holder)).Output<int>());
        Assert.Equal(12, (await harness.WaitForCompletionAsync(waiter)).Output<int>());

        // Only the holder's lock was granted inline; the waiter's went through the inbox.
        Assert.Equal(1, harness.Observed.SectionLocksOf(entity));
        var state = await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("held"), includeState: true, harness.Token);
        Assert.Equal("12", state?.SerializedState);
        Assert.Null(state?.LockedBy);
    }

    [Fact]
    public async Task A_lock_given_back_by_an_episode_that_continues_as_new_is_granted_through_the_inbox_and_released()
    {
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            Register(r);
            r.AddOrchestratorFunc<int, int>("lock-then-continue", async (ctx, round) =>
            {
                if (round == 0)
                {
                    // The episode the grant wakes continues as new: the worker gives the lock back, and the request
                    // goes through the entity's inbox instead.
                    await using (await ctx.Entities.LockEntitiesAsync(EntityTestApp.CounterId("gone")))
                    {
                    }

                    ctx.ContinueAsNew(1);
                    return 0;
                }

                return await ctx.Entities.CallEntityAsync<int>(EntityTestApp.CounterId("other"), "Add", 3);
            });
        });

        var done = await harness.RunAsync("lock-then-continue", 0, "continue-run");

        Assert.Equal(3, done.Output<int>());
        Assert.Equal(1, harness.Observed.SectionLocksOf(EntityTestApp.CounterId("gone").ToString()));
        var gone = await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("gone"), includeState: true, harness.Token);
        Assert.True(gone is null || (gone.SerializedState is null && gone.LockedBy is null), $"left: state {gone?.SerializedState}, locked by {gone?.LockedBy}");
    }
}
