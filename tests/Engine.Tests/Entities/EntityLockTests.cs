using KataWorkflows.Engine.Tests.Harness;
using Microsoft.DurableTask.Protobuf;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Engine.Tests.Entities;

public sealed class EntityLockTests
{
    [Fact]
    public async Task Fifty_orchestrations_contending_for_one_lock_all_complete_without_overlapping_critical_sections()
    {
        var overlaps = new OverlapDetector();
        await using var harness = await EngineHarness.StartAsync(r => EntityTestApp.Register(r, new Gate(), overlaps));

        var ids = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => harness.ScheduleAsync("contender", "hot", $"c-{i:D2}")));
        var done = await Task.WhenAll(ids.Select(harness.WaitForCompletionAsync));

        Assert.All(done, m => Assert.Equal(OrchestrationRuntimeStatus.Completed, m.Status));
        Assert.Equal(50, overlaps.Runs);
        Assert.Equal(0, overlaps.Overlaps);
        var log = await LogOf(harness, "hot");
        Assert.Equal(100, log.Count);
        for (var i = 0; i < log.Count; i += 2)
        {
            // Every section is entered and left before the next one enters.
            Assert.StartsWith("enter:", log[i], StringComparison.Ordinal);
            Assert.Equal("exit:" + log[i]["enter:".Length..], log[i + 1]);
        }

        Assert.Equal(ids.Order(StringComparer.Ordinal), log.Where(l => l.StartsWith("enter:", StringComparison.Ordinal)).Select(l => l[6..]).Order(StringComparer.Ordinal));
        foreach (var id in ids)
        {
            var history = await harness.HistoryAsync(id);
            Assert.True(history.IndexOf(Kind.EntityLockRequested) < history.IndexOf(Kind.EntityLockGranted));
            Assert.True(history.IndexOf(Kind.EntityLockGranted) < history.IndexOf(Kind.EntityUnlockSent));
        }
    }

    [Fact]
    public async Task Lock_is_granted_in_the_order_the_requests_arrived()
    {
        var gate = new Gate();
        var overlaps = new OverlapDetector();
        await using var harness = await EngineHarness.StartAsync(r => EntityTestApp.Register(r, gate, overlaps));
        await harness.ScheduleAsync("contender", "fifo", "hold-first");
        await gate.WaitForArrivalAsync(harness.Token);

        // Each request is in the entity's queue before the next orchestration starts: the arrival order is known.
        var queued = new List<string>();
        for (var i = 0; i < 50; i++)
        {
            var id = await harness.ScheduleAsync("contender", "fifo", $"q-{(i * 37) % 100:D2}");
            await harness.WaitForHistoryAsync(id, h => h.IndexOf(Kind.EntityLockRequested) >= 0, "to request the lock");
            queued.Add(id);
        }

        var waiting = await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.LogId("fifo"), includeState: false, harness.Token);
        Assert.Equal("hold-first", waiting?.LockedBy);
        Assert.Equal(50, waiting?.BacklogQueueSize);

        gate.Release();
        foreach (var id in queued)
        {
            Assert.Equal(OrchestrationRuntimeStatus.Completed, (await harness.WaitForCompletionAsync(id)).Status);
        }

        string[] expected = [.. new[] { "hold-first" }.Concat(queued).SelectMany(id => new[] { "enter:" + id, "exit:" + id })];
        Assert.Equal(expected, await LogOf(harness, "fifo"));
        Assert.Equal(0, overlaps.Overlaps);
    }

    [Fact]
    public async Task Terminating_the_lock_holder_releases_the_lock_and_the_next_waiter_proceeds()
    {
        var gate = new Gate();
        await using var harness = await EngineHarness.StartAsync(r => EntityTestApp.Register(r, gate, new OverlapDetector()));
        var holder = await harness.ScheduleAsync("holder", "t", "t-holder");
        await gate.WaitForArrivalAsync(harness.Token);
        var waiter = await harness.ScheduleAsync("lock-and-add", new CounterCall("t", "Add", 10), "t-waiter");
        await harness.WaitForHistoryAsync(waiter, h => h.IndexOf(Kind.EntityLockRequested) >= 0, "to request the lock");
        Assert.Equal("t-holder", (await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("t"), cancellation: harness.Token))?.LockedBy);

        await harness.Client.TerminateInstanceAsync(holder, "stuck", cancellation: harness.Token);
        var terminated = await harness.WaitForCompletionAsync(holder);
        var next = await harness.WaitForCompletionAsync(waiter);

        Assert.Equal(OrchestrationRuntimeStatus.Terminated, terminated.Status);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, next.Status);
        Assert.Equal(11, next.Output<int>());
        var history = await harness.HistoryAsync(holder);
        var unlock = history[history.IndexOf(Kind.EntityUnlockSent)].EntityUnlockSent;
        Assert.Equal("@counter@t", unlock.TargetInstanceId);
        Assert.Equal(history[history.IndexOf(Kind.EntityLockRequested)].EntityLockRequested.CriticalSectionId, unlock.CriticalSectionId);
        await AssertUnlockedAsync(harness, "t", expectedValue: 11);
    }

    [Theory]
    [InlineData("throw-inside-using")]
    [InlineData("activity-fails-inside-using")]
    [InlineData("throw-without-dispose")]
    public async Task Orchestration_failing_while_holding_the_lock_releases_it_and_the_next_waiter_proceeds(string how)
    {
        var gate = new Gate();
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            EntityTestApp.Register(r, gate, new OverlapDetector());
            r.AddOrchestratorFunc<string, int>("failing-holder", async (ctx, mode) =>
            {
                var id = EntityTestApp.CounterId(mode);
                if (mode == "throw-without-dispose")
                {
                    _ = await ctx.Entities.LockEntitiesAsync(id);
                    await ctx.Entities.CallEntityAsync<int>(id, "Add", 1);
                    await ctx.CallActivityAsync("blocking", ctx.InstanceId);
                    throw new InvalidOperationException("failed in the critical section");
                }

                await using (await ctx.Entities.LockEntitiesAsync(id))
                {
                    await ctx.Entities.CallEntityAsync<int>(id, "Add", 1);
                    await ctx.CallActivityAsync("blocking", ctx.InstanceId);
                    if (mode == "activity-fails-inside-using")
                    {
                        await ctx.CallActivityAsync("explode");
                    }

                    throw new InvalidOperationException("failed in the critical section");
                }
            });
        });
        var holder = await harness.ScheduleAsync("failing-holder", how, "f-holder");
        await gate.WaitForArrivalAsync(harness.Token);
        var waiter = await harness.ScheduleAsync("lock-and-add", new CounterCall(how, "Add", 10), "f-waiter");
        await harness.WaitForHistoryAsync(waiter, h => h.IndexOf(Kind.EntityLockRequested) >= 0, "to request the lock");

        gate.Release();
        var failed = await harness.WaitForCompletionAsync(holder);
        var next = await harness.WaitForCompletionAsync(waiter);

        Assert.Equal(OrchestrationRuntimeStatus.Failed, failed.Status);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, next.Status);
        Assert.Equal(11, next.Output<int>());
        var history = await harness.HistoryAsync(holder);
        Assert.Equal(1, history.Count(Kind.EntityUnlockSent));
        Assert.True(history.IndexOf(Kind.EntityUnlockSent) < history.IndexOf(Kind.ExecutionCompleted));
        await AssertUnlockedAsync(harness, how, expectedValue: 11);
    }

    [Fact]
    public async Task Orchestrations_locking_the_same_pair_in_opposite_orders_all_complete()
    {
        await using var harness = await EngineHarness.StartAsync(r => EntityTestApp.Register(r, new Gate(), new OverlapDetector()));

        var ids = await Task.WhenAll(Enumerable.Range(0, 20).SelectMany(i => new[]
        {
            harness.ScheduleAsync("lock-all", new[] { "a", "b" }, $"ab-{i:D2}"),
            harness.ScheduleAsync("lock-all", new[] { "b", "a" }, $"ba-{i:D2}"),
        }));
        var done = await Task.WhenAll(ids.Select(harness.WaitForCompletionAsync));

        Assert.All(done, m => Assert.Equal(OrchestrationRuntimeStatus.Completed, m.Status));
        Assert.Equal("40", (await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("a"), cancellation: harness.Token))?.SerializedState);
        Assert.Equal("40", (await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("b"), cancellation: harness.Token))?.SerializedState);

        // Whatever order the code named them in, the locks were requested in one global order; each holder saw
        // both counters move together, so no one else got in between.
        Assert.Equal(Enumerable.Range(1, 40).Select(n => 2 * n).ToArray(), done.Select(m => m.Output<int>()).Order());
        foreach (var id in ids)
        {
            var history = await harness.HistoryAsync(id);
            Assert.Equal(["@counter@a", "@counter@b"], history[history.IndexOf(Kind.EntityLockRequested)].EntityLockRequested.LockSet);
        }
    }

    public static TheoryData<string, string> Misuses => new()
    {
        // DurableTask.Core's entity context validates every transition and says what is wrong in its own words.
        { "nested", "Must not enter another critical section from within a critical section." },
        { "call-unlocked", "Must not call an entity from a critical section if it is not one of the locked entities." },
        { "signal-locked", "Must not signal a locked entity from a critical section." },
        { "sub-orchestration", "While holding locks, cannot call suborchestrators." },
    };

    [Theory]
    [MemberData(nameof(Misuses))]
    public async Task Misusing_a_critical_section_throws_EntityLockMisuseException_with_a_clear_message(string misuse, string expected)
    {
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            EntityTestApp.Register(r, new Gate(), new OverlapDetector());
            r.AddOrchestratorFunc<string, string>("misuser", async (ctx, what) =>
            {
                var locked = EntityTestApp.CounterId("m-locked");
                var other = EntityTestApp.CounterId("m-other");
                await using (await ctx.Entities.LockEntitiesAsync(locked))
                {
                    Assert.True(ctx.Entities.InCriticalSection(out var held));
                    Assert.Equal([locked], held);
                    try
                    {
                        switch (what)
                        {
                            case "nested":
                                await ctx.Entities.LockEntitiesAsync(other);
                                break;
                            case "call-unlocked":
                                await ctx.Entities.CallEntityAsync<int>(other, "Get");
                                break;
                            case "signal-locked":
                                await ctx.Entities.SignalEntityAsync(locked, "Add", 1);
                                break;
                            default:
                                await ctx.CallSubOrchestratorAsync<int>(EntityTestApp.ReadCounter, "m-other");
                                break;
                        }

                        return "no exception";
                    }
                    // The SDK reports misused critical sections as InvalidOperationException (Core's entity context).
                    catch (InvalidOperationException ex)
                    {
                        return ex.Message;
                    }
                }
            });
        });

        var done = await harness.RunAsync("misuser", misuse);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal(expected, done.Output<string>());
        var history = await harness.HistoryAsync(done.InstanceId);
        Assert.Equal(
            [Kind.ExecutionStarted, Kind.EntityLockRequested, Kind.EntityLockGranted, Kind.EntityUnlockSent, Kind.ExecutionCompleted],
            history.Steps());
    }

    [Fact]
    public async Task Uncaught_misuse_fails_the_orchestration_and_releases_its_lock()
    {
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            EntityTestApp.Register(r, new Gate(), new OverlapDetector());
            r.AddOrchestratorFunc<string, int>("nester", async (ctx, key) =>
            {
                await using (await ctx.Entities.LockEntitiesAsync(EntityTestApp.CounterId(key)))
                {
                    await using (await ctx.Entities.LockEntitiesAsync(EntityTestApp.CounterId(key + "-2")))
                    {
                        return 1;
                    }
                }
            });
        });

        var done = await harness.RunAsync("nester", "n");

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.Status);
        Assert.Equal(typeof(InvalidOperationException).FullName, done.FailureDetails?.ErrorType);
        Assert.Equal("Must not enter another critical section from within a critical section.", done.FailureDetails?.ErrorMessage);
        Assert.Equal(5, (await harness.RunAsync("lock-and-add", new CounterCall("n", "Add", 5))).Output<int>());
    }

    [Fact]
    public async Task History_records_lock_request_grant_call_response_unlock_and_signal()
    {
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            EntityTestApp.Register(r, new Gate(), new OverlapDetector());
            r.AddOrchestratorFunc<string, int>("traffic", async (ctx, key) =>
            {
                var id = EntityTestApp.CounterId(key);
                int value;
                await using (await ctx.Entities.LockEntitiesAsync(id))
                {
                    value = await ctx.Entities.CallEntityAsync<int>(id, "Add", 5);
                }

                await ctx.Entities.SignalEntityAsync(id, "Add", 1);
                return value;
            });
        });

        var done = await harness.RunAsync("traffic", "tr");

        Assert.Equal(5, done.Output<int>());
        var history = await harness.HistoryAsync(done.InstanceId);
        Assert.Equal(
            [
                Kind.ExecutionStarted, Kind.EntityLockRequested, Kind.EntityLockGranted, Kind.EntityOperationCalled,
                Kind.EntityOperationCompleted, Kind.EntityUnlockSent, Kind.EntityOperationSignaled, Kind.ExecutionCompleted,
            ],
            history.Steps());
        var requested = Single(history, Kind.EntityLockRequested).EntityLockRequested;
        var granted = Single(history, Kind.EntityLockGranted).EntityLockGranted;
        var called = Single(history, Kind.EntityOperationCalled).EntityOperationCalled;
        var completed = Single(history, Kind.EntityOperationCompleted).EntityOperationCompleted;
        var unlocked = Single(history, Kind.EntityUnlockSent).EntityUnlockSent;
        var signaled = Single(history, Kind.EntityOperationSignaled).EntityOperationSignaled;
        Assert.Equal(["@counter@tr"], requested.LockSet);
        Assert.Equal(requested.CriticalSectionId, granted.CriticalSectionId);
        Assert.Equal(requested.CriticalSectionId, unlocked.CriticalSectionId);
        Assert.Equal("@counter@tr", unlocked.TargetInstanceId);
        Assert.Equal("Add", called.Operation);
        Assert.Equal("5", called.Input);
        Assert.Equal("@counter@tr", called.TargetInstanceId);
        Assert.Equal(called.RequestId, completed.RequestId);
        Assert.Equal("5", completed.Output);
        Assert.Equal("Add", signaled.Operation);
        Assert.Equal(6, (await harness.RunAsync(EntityTestApp.ReadCounter, "tr")).Output<int>());
    }

    private static HistoryEvent Single(IReadOnlyList<HistoryEvent> history, Kind kind) => Assert.Single(history, e => e.EventTypeCase == kind);

    private static async Task<List<string>> LogOf(EngineHarness harness, string key)
    {
        var entity = await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.LogId(key), includeState: true, harness.Token);
        return Json.Read<List<string>>(entity?.SerializedState) ?? [];
    }

    /// <summary>
    /// A plain call is only served while nobody holds the lock, and it is queued behind every release sent so far:
    /// once it returns, the entity must be free.
    /// </summary>
    private static async Task AssertUnlockedAsync(EngineHarness harness, string key, int expectedValue)
    {
        Assert.Equal(expectedValue, (await harness.RunAsync(EntityTestApp.ReadCounter, key)).Output<int>());
        var entity = await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId(key), cancellation: harness.Token);
        Assert.Null(entity?.LockedBy);
        Assert.Equal(0, entity?.BacklogQueueSize);
    }
}
