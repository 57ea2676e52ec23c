using KataWorkflows.Engine.Tests.Entities;
using KataWorkflows.Engine.Tests.Harness;
using KataWorkflows.Engine.Tests.Replay;
using Microsoft.DurableTask.Protobuf;
using Dt = Microsoft.DurableTask;
using DtEntities = Microsoft.DurableTask.Entities;

namespace KataWorkflows.Engine.Tests.Sdk;

/// <summary>
/// The histories checked in under <c>Histories/</c> were recorded by the engine's own executor. The same
/// orchestrations written against the SDK must replay them through the SDK runner without a complaint and reach the
/// recorded result: that is what lets the switch keep the stored histories.
/// </summary>
public sealed class RecordedHistoryReplayTests
{
    private static void Register(Dt.DurableTaskRegistry registry)
    {
        registry.AddOrchestratorFunc<string, string>(ReplayOrchestrations.ActivityChain, async (ctx, input) =>
        {
            var upper = await ctx.CallActivityAsync<string>("Upper", input);
            var reversed = await ctx.CallActivityAsync<string>("Reverse", upper);
            await ctx.CreateTimer(TimeSpan.FromMilliseconds(50), CancellationToken.None);
            return await ctx.CallActivityAsync<string>("Suffix", reversed);
        });
        registry.AddOrchestratorFunc<int, string>(ReplayOrchestrations.Approval, async (ctx, count) =>
        {
            var total = await ctx.CallSubOrchestratorAsync<int>(ReplayOrchestrations.FanOut, count);
            ctx.SetCustomStatus("awaiting approval");
            var approver = await ctx.WaitForExternalEvent<string>(ReplayOrchestrations.ApprovalEvent);
            await ctx.CallActivityAsync("Notify", $"{approver}:{total}");
            return $"{approver} approved {total}";
        });
        registry.AddOrchestratorFunc<int, int>(ReplayOrchestrations.FanOut, async (ctx, count) =>
        {
            var squares = await Task.WhenAll(Enumerable.Range(1, count).Select(i => ctx.CallActivityAsync<int>("Square", i)));
            return squares.Sum();
        });
    }

    public static TheoryData<string> Files => [.. HistoryFiles.Names];

    [Theory]
    [MemberData(nameof(Files))]
    public void A_history_the_engine_recorded_replays_through_the_sdk_to_its_recorded_result(string file)
    {
        var document = HistoryFiles.Load(file);
        var recorded = document.Events.Last(e => e.EventTypeCase == HistoryEvent.EventTypeOneofCase.ExecutionCompleted).ExecutionCompleted;
        var runner = EpisodeDriver.Runner(Register);

        var result = runner.Run(document.Events, []);

        Assert.Null(result.NonDeterminism);
        var completion = Assert.IsType<CompleteOrchestrationAction>(result.Completion);
        Assert.Equal(recorded.OrchestrationStatus, completion.OrchestrationStatus);
        Assert.Equal(recorded.Result, completion.Result);
    }

    [Fact]
    public void A_recorded_history_replayed_against_changed_code_names_the_first_disagreeing_event()
    {
        var document = HistoryFiles.Load("activity-chain.json");
        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<string, string>(ReplayOrchestrations.ActivityChain, async (ctx, input) =>
        {
            var upper = await ctx.CallActivityAsync<string>("Upper", input);
            return await ctx.CallActivityAsync<string>("Shuffle", upper);
        }));

        var result = runner.Run(document.Events, []);

        var nd = Assert.IsType<KataWorkflows.Engine.Sdk.SdkNonDeterminism>(result.NonDeterminism);
        Assert.Equal("Reverse", nd.Recorded!.TaskScheduled.Name);
        Assert.Same(document.Events[nd.EventIndex], nd.Recorded);
        Assert.Contains("'Shuffle'", nd.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_entity_history_the_engine_records_replays_through_the_sdk_to_its_result()
    {
        // Recorded now by the engine's own executor and store: a signal, a call, and a call inside a critical section.
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            r.AddEntity<Counter>("counter");
            r.AddOrchestratorFunc<object?, int>("Entities", async (ctx, _) =>
            {
                var a = new EntityInstanceId("counter", "a");
                var b = new EntityInstanceId("counter", "b");
                await ctx.Entities.SignalEntityAsync(b, "add", 1);
                var value = await ctx.Entities.CallEntityAsync<int>(a, "add", 6);
                await using (await ctx.Entities.LockEntitiesAsync(b, a))
                {
                    value += await ctx.Entities.CallEntityAsync<int>(b, "add", 5);
                }

                return value;
            });
        });
        var done = await harness.RunAsync("Entities");
        var history = await harness.HistoryAsync(done.InstanceId);

        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<object?, int>("Entities", async (ctx, _) =>
        {
            var a = new DtEntities.EntityInstanceId("counter", "a");
            var b = new DtEntities.EntityInstanceId("counter", "b");
            await ctx.Entities.SignalEntityAsync(b, "add", 1);
            var value = await ctx.Entities.CallEntityAsync<int>(a, "add", 6);
            await using (await ctx.Entities.LockEntitiesAsync(b, a))
            {
                value += await ctx.Entities.CallEntityAsync<int>(b, "add", 5);
            }

            return value;
        }));
        var result = runner.Run(history, []);

        Assert.Null(result.NonDeterminism);
        Assert.Equal("12", done.SerializedOutput);
        Assert.Equal(done.SerializedOutput, result.Completion?.Result);
    }
}
