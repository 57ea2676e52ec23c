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
                catch (TaskFailedException ex)
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

        // The four calls inside the section ran inline, under one lease; the one after the release went through the inbox.
        Assert.Equal(1, harness.Observed.InlineLeasesOf(entity));
        Assert.Equal(1, harness.Observed.InboxOperationsOf(entity));

        var state = await harness.Client.GetEntityAsync(EntityTestApp.CounterId("inline"), includeState: true, harness.Token);
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

        // The operation ran once on the worker's first try and was given back, then ran from the inbox with its signal.
        var read = await harness.WaitForCompletionAsync("read-r1");
        Assert.Equal(OrchestrationRuntimeStatus.Completed, read.Status);
        var counter = await harness.Client.GetEntityAsync(EntityTestApp.CounterId("r1"), includeState: true, harness.Token);
        Assert.Equal("7", counter?.SerializedState);
        Assert.Equal(1, harness.Observed.InlineLeasesOf(new EntityInstanceId("relay", "r1").ToString()));
        Assert.Equal(1, harness.Observed.InboxOperationsOf(new EntityInstanceId("relay", "r1").ToString()));
    }
}
