using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Tests.Harness;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Engine.Tests.Entities;

public sealed class EntityOperationTests
{
    private static Task<EngineHarness> StartAsync(Action<DurableTaskRegistry>? more = null) =>
        EngineHarness.StartAsync(r =>
        {
            EntityTestApp.Register(r, new Gate(), new OverlapDetector());
            more?.Invoke(r);
        });

    [Fact]
    public async Task Operation_that_throws_leaves_the_state_unchanged_and_fails_the_call_with_its_details()
    {
        await using var harness = await StartAsync(r =>
            r.AddOrchestratorFunc<string, string>("failing-call", async (ctx, key) =>
            {
                var id = EntityTestApp.CounterId(key);
                await ctx.Entities.CallEntityAsync<int>(id, "Add", 3);
                try
                {
                    await ctx.Entities.CallEntityAsync(id, "Fail", "boom");
                    return "no failure";
                }
                catch (EntityOperationFailedException ex)
                {
                    var after = await ctx.Entities.CallEntityAsync<int>(id, "Get");
                    return $"{ex.OperationName}|{ex.FailureDetails.ErrorType}|{ex.FailureDetails.ErrorMessage}|{after}";
                }
            }));

        var done = await harness.RunAsync("failing-call", "f1");

        Assert.Equal($"Fail|{typeof(InvalidOperationException).FullName}|boom|3", done.Output<string>());
        var entity = await harness.Client.Entities.GetEntityRecordAsync(EntityTestApp.CounterId("f1"), cancellation: harness.Token);
        Assert.Equal("3", entity?.SerializedState);
        var history = await harness.HistoryAsync(done.InstanceId);
        var failed = history[history.IndexOf(Kind.EntityOperationFailed)].EntityOperationFailed;
        Assert.Equal("boom", failed.FailureDetails.ErrorMessage);
        var call = history.Where(e => e.EntityOperationCalled is not null).Select(e => e.EntityOperationCalled).Single(c => c.Operation == "Fail");
        Assert.Equal(call.RequestId, failed.RequestId);
    }

    [Fact]
    public async Task Failed_operation_of_a_raw_entity_rolls_back_the_state_it_wrote_and_the_signal_it_sent()
    {
        await using var harness = await StartAsync(r =>
            r.AddOrchestratorFunc<string?, string>("overdraw", async (ctx, _) =>
            {
                var ledger = new EntityInstanceId("ledger", "l1");
                await ctx.Entities.CallEntityAsync<int>(ledger, "deposit", 50);
                string error;
                try
                {
                    await ctx.Entities.CallEntityAsync<int>(ledger, "overdraw");
                    error = "none";
                }
                catch (EntityOperationFailedException ex)
                {
                    error = ex.FailureDetails.ErrorMessage;
                }

                // A signal sent by the failed operation would be queued at the counter ahead of this call.
                var audits = await ctx.Entities.CallEntityAsync<int>(EntityTestApp.CounterId("ledger-audit"), "Get");
                var balance = await ctx.Entities.CallEntityAsync<int>(ledger, "balance");
                return $"{error}|{balance}|{audits}";
            }));

        var done = await harness.RunAsync("overdraw");

        Assert.Equal("overdraft refused|50|0", done.Output<string>());
        Assert.Equal("50", (await harness.Client.Entities.GetEntityRecordAsync(new EntityInstanceId("ledger", "l1"), cancellation: harness.Token))?.SerializedState);
    }

    [Fact]
    public async Task Uncaught_entity_failure_fails_the_orchestration_with_the_operation_failure_as_cause()
    {
        await using var harness = await StartAsync();

        var done = await harness.RunAsync("counter-call", new CounterCall("f2", "Fail"));

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.Status);
        // The SDK throws EntityOperationFailedException into the code; its message carries the operation's failure.
        Assert.Equal(typeof(EntityOperationFailedException).FullName, done.FailureDetails?.ErrorType);
        Assert.Contains("'Fail'", done.FailureDetails?.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("@counter@f2", done.FailureDetails?.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_operation_fails_the_call_with_a_message_naming_it()
    {
        await using var harness = await StartAsync();

        var done = await harness.RunAsync("counter-call", new CounterCall("f3", "Multiply", 2));

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.Status);
        Assert.Equal(typeof(EntityOperationFailedException).FullName, done.FailureDetails?.ErrorType);
        Assert.Contains("Operation 'Multiply' of entity '@counter@f3' failed", done.FailureDetails?.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Signals_are_one_way_calls_get_a_response_and_both_run_in_arrival_order()
    {
        await using var harness = await StartAsync(r =>
            r.AddOrchestratorFunc<string, int>("signal-then-call", async (ctx, key) =>
            {
                var id = EntityTestApp.CounterId(key);
                await ctx.Entities.SignalEntityAsync(id, "Add", 5);
                return await ctx.Entities.CallEntityAsync<int>(id, "Get");
            }));
        await harness.Client.Entities.SignalEntityAsync(EngineHarness.Sdk(EntityTestApp.CounterId("sc")), "Add", 2, cancellation: harness.Token);

        var done = await harness.RunAsync("signal-then-call", "sc");

        Assert.Equal(7, done.Output<int>());
        var history = await harness.HistoryAsync(done.InstanceId);
        var signal = history[history.IndexOf(Kind.EntityOperationSignaled)].EntityOperationSignaled;
        Assert.Equal("Add", signal.Operation);
        Assert.Equal("@counter@sc", signal.TargetInstanceId);
        var call = history[history.IndexOf(Kind.EntityOperationCalled)].EntityOperationCalled;
        Assert.Equal(1, history.Count(Kind.EntityOperationCompleted));
        Assert.Equal(call.RequestId, history[history.IndexOf(Kind.EntityOperationCompleted)].EntityOperationCompleted.RequestId);
        Assert.NotEqual(signal.RequestId, call.RequestId);
    }

    [Fact]
    public async Task Delete_operation_removes_the_state_and_the_entity()
    {
        await using var harness = await StartAsync();
        var id = EntityTestApp.CounterId("doomed");
        Assert.Equal(4, (await harness.RunAsync("counter-call", new CounterCall("doomed", "Add", 4))).Output<int>());
        Assert.Equal("4", (await harness.Client.Entities.GetEntityRecordAsync(id, cancellation: harness.Token))?.SerializedState);

        var deleted = await harness.RunAsync("counter-call", new CounterCall("doomed", "delete"));

        Assert.Equal(OrchestrationRuntimeStatus.Completed, deleted.Status);
        Assert.Null(await harness.Client.Entities.GetEntityRecordAsync(id, cancellation: harness.Token));
        var listed = await harness.Client.Entities.QueryEntityRecordsAsync(new EntityListQuery { InstanceIdStartsWith = "@counter@doomed", IncludeTransient = true }, harness.Token);
        Assert.Empty(listed.Entities);
        Assert.Equal(0, (await harness.RunAsync("counter-call", new CounterCall("doomed", "Get"))).Output<int>());
    }

    [Fact]
    public async Task Entity_signals_another_entity_and_starts_an_orchestration_that_sees_the_signal()
    {
        await using var harness = await StartAsync();

        await harness.Client.Entities.SignalEntityAsync(
            EngineHarness.Sdk(new EntityInstanceId("relay", "r1")), "Forward", new ForwardRequest("fw", 9, "started-by-entity"), cancellation: harness.Token);
        var started = await harness.WaitForCompletionAsync("started-by-entity");

        // The signal to the counter was queued before the orchestration existed, so its call comes after it.
        Assert.Equal(OrchestrationRuntimeStatus.Completed, started.Status);
        Assert.Equal(EntityTestApp.ReadCounter, started.Name);
        Assert.Equal("\"fw\"", started.SerializedInput);
        Assert.Equal(9, started.Output<int>());
        var relay = await harness.Client.Entities.GetEntityRecordAsync(new EntityInstanceId("relay", "r1"), cancellation: harness.Token);
        Assert.Equal("1", relay?.SerializedState);
    }

    [Fact]
    public async Task Entity_metadata_shows_the_lock_holder_and_the_operations_waiting_behind_it()
    {
        var gate = new Gate();
        await using var harness = await EngineHarness.StartAsync(r => EntityTestApp.Register(r, gate, new OverlapDetector()));
        var id = EntityTestApp.CounterId("meta");
        var holder = await harness.ScheduleAsync("holder", "meta", "meta-holder");
        await gate.WaitForArrivalAsync(harness.Token);
        var history = await harness.HistoryAsync(holder);
        var section = history[history.IndexOf(Kind.EntityLockRequested)].EntityLockRequested.CriticalSectionId;

        var locked = await harness.Client.Entities.GetEntityRecordAsync(id, includeState: true, harness.Token);
        Assert.NotNull(locked);
        Assert.Equal(EntityInstanceId.FromSdk(id), locked.Id);
        Assert.Equal("meta-holder", locked.LockedBy);
        Assert.Equal(section, locked.CriticalSectionId);
        Assert.Equal("1", locked.SerializedState);
        Assert.Equal(0, locked.BacklogQueueSize);

        for (var i = 0; i < 3; i++)
        {
            await harness.Client.Entities.SignalEntityAsync(EngineHarness.Sdk(id), "Add", 10, cancellation: harness.Token);
        }

        var backlog = await harness.Client.Entities.GetEntityRecordAsync(id, includeState: false, harness.Token);
        Assert.Equal(3, backlog?.BacklogQueueSize);
        Assert.Equal("meta-holder", backlog?.LockedBy);
        Assert.Null(backlog?.SerializedState);

        gate.Release();
        Assert.Equal(2, (await harness.WaitForCompletionAsync(holder)).Output<int>());
        Assert.Equal(32, (await harness.RunAsync(EntityTestApp.ReadCounter, "meta")).Output<int>());

        var free = await harness.Client.Entities.GetEntityRecordAsync(id, cancellation: harness.Token);
        Assert.Null(free?.LockedBy);
        Assert.Null(free?.CriticalSectionId);
        Assert.Equal(0, free?.BacklogQueueSize);
        Assert.Equal("32", free?.SerializedState);
    }

    [Fact]
    public async Task Query_entities_pages_by_prefix_without_gaps_or_repeats()
    {
        await using var harness = await StartAsync(r =>
            r.AddOrchestratorFunc<string[], int>("touch-all", async (ctx, ids) =>
            {
                var results = await Task.WhenAll(ids.Select(id => ctx.Entities.CallEntityAsync<int>(EntityInstanceId.Parse(id), "Add", 1)));
                return results.Sum();
            }));
        var counters = Enumerable.Range(0, 25).Select(i => $"@counter@k{i:D2}").ToArray();
        var tallies = Enumerable.Range(0, 5).Select(i => $"@tally@t{i}").ToArray();
        Assert.Equal(30, (await harness.RunAsync("touch-all", counters.Concat(tallies).ToArray())).Output<int>());

        var seen = new List<EntityMetadata>();
        var pages = 0;
        string? token = null;
        do
        {
            var page = await harness.Client.Entities.QueryEntityRecordsAsync(
                new EntityListQuery { InstanceIdStartsWith = "@counter@", PageSize = 7, IncludeState = true, ContinuationToken = token }, harness.Token);
            pages++;
            Assert.InRange(page.Entities.Count, 1, 7);
            seen.AddRange(page.Entities);
            token = page.ContinuationToken;
        }
        while (token is not null);

        Assert.Equal(4, pages);
        Assert.Equal(counters, seen.Select(e => e.Id.ToString()));
        Assert.All(seen, e => Assert.Equal("1", e.SerializedState));
        var tallyPage = await harness.Client.Entities.QueryEntityRecordsAsync(new EntityListQuery { InstanceIdStartsWith = "@tally@" }, harness.Token);
        Assert.Equal(tallies, tallyPage.Entities.Select(e => e.Id.ToString()));
        Assert.All(tallyPage.Entities, e => Assert.Null(e.SerializedState));
        var narrow = await harness.Client.Entities.QueryEntityRecordsAsync(new EntityListQuery { InstanceIdStartsWith = "@counter@k1" }, harness.Token);
        Assert.Equal(counters[10..20], narrow.Entities.Select(e => e.Id.ToString()));
    }
}
