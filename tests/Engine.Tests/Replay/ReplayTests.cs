using KataWorkflows.Engine.Sdk;
using KataWorkflows.Engine.Serialization;
using KataWorkflows.Engine.Tests.Harness;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Engine.Tests.Replay;

public sealed class ReplayTests
{
    public static TheoryData<string, string, Kind[]> Files => new()
    {
        { "activity-chain.json", ReplayOrchestrations.ActivityChain, [Kind.TaskScheduled, Kind.TimerCreated, Kind.TimerFired, Kind.TaskCompleted] },
        { "approval.json", ReplayOrchestrations.Approval, [Kind.SubOrchestrationInstanceCreated, Kind.SubOrchestrationInstanceCompleted, Kind.EventRaised, Kind.TaskScheduled] },
        { "fan-out.json", ReplayOrchestrations.FanOut, [Kind.TaskScheduled, Kind.TaskCompleted] },
    };

    [Theory]
    [MemberData(nameof(Files))]
    public void Checked_in_history_replays_deterministically_against_the_current_code(string file, string name, Kind[] mustContain)
    {
        var document = HistoryFiles.Load(file);
        Assert.Equal(name, document.Name);
        Assert.Equal("Completed", document.Status);
        Assert.All(mustContain, kind => Assert.Contains(kind, document.Events.Kinds()));
        Assert.Equal(Kind.ExecutionCompleted, document.Events.Kinds()[^2]);

        var result = Replay(ReplayOrchestrations.Register, document);

        Assert.True(result.IsDeterministic, result.ToString());
        Assert.Equal(document.Events.Count, result.EventsReplayed);
        Assert.Null(result.EventIndex);
    }

    [Fact]
    public void Every_checked_in_file_is_covered_and_round_trips_through_json()
    {
        Assert.Equal(HistoryFiles.Names.Order(StringComparer.Ordinal), Files.Select(row => row.Data.Item1).Order(StringComparer.Ordinal));
        foreach (var file in HistoryFiles.Names)
        {
            var document = HistoryFiles.Load(file);
            var again = HistoryDocument.Parse(document.ToJson());
            Assert.Equal(document.Events, again.Events);
            Assert.Equal(document.InstanceId, again.InstanceId);
        }
    }

    [Fact]
    public void Changed_orchestrator_calling_another_activity_at_step_two_is_reported_at_the_exact_event()
    {
        var document = HistoryFiles.Load("activity-chain.json");
        Assert.Equal("Reverse", document.Events[6].TaskScheduled?.Name);

        var result = Replay(ReplayOrchestrations.RegisterChangedChain, document);

        Assert.False(result.IsDeterministic);
        Assert.Equal(6, result.EventIndex);
        Assert.Equal("TaskScheduled #1 'Reverse'", result.Recorded);
        Assert.StartsWith("ScheduleTask #1 'Shuffle': Non-Deterministic workflow detected:", result.Produced, StringComparison.Ordinal);
        Assert.Contains("named 'Reverse'", result.Produced, StringComparison.Ordinal);
    }

    [Fact]
    public void Orchestrator_that_dropped_its_timer_is_reported_where_the_timer_was_recorded()
    {
        var document = HistoryFiles.Load("activity-chain.json");

        var result = Replay(
            r =>
            {
                r.AddActivityFunc<string, string>("Upper", (ctx, s) => Task.FromResult(s));
                r.AddOrchestratorFunc<string, string>(ReplayOrchestrations.ActivityChain, async (ctx, input) =>
                {
                    var upper = await ctx.CallActivityAsync<string>("Upper", input);
                    var reversed = await ctx.CallActivityAsync<string>("Reverse", upper);
                    return await ctx.CallActivityAsync<string>("Suffix", reversed);
                });
            },
            document);

        Assert.False(result.IsDeterministic);
        Assert.Equal(10, result.EventIndex);
        Assert.StartsWith("TimerCreated #2", result.Recorded, StringComparison.Ordinal);
        Assert.StartsWith("ScheduleTask #2 'Suffix': Non-Deterministic workflow detected:", result.Produced, StringComparison.Ordinal);
    }

    [Fact]
    public void Orchestrator_returning_a_different_outcome_is_reported_at_the_recorded_completion()
    {
        var document = HistoryFiles.Load("fan-out.json");

        var result = Replay(
            r => r.AddOrchestratorFunc<int, int>(ReplayOrchestrations.FanOut, async (ctx, count) =>
            {
                var squares = await Task.WhenAll(Enumerable.Range(1, count).Select(i => ctx.CallActivityAsync<int>("Square", i)));
                return squares.Sum() > 0 ? throw new InvalidOperationException("new validation") : 0;
            }),
            document);

        Assert.False(result.IsDeterministic);
        Assert.Equal(12, result.EventIndex);
        Assert.Equal("ExecutionCompleted (Completed)", result.Recorded);
        Assert.Equal("CompleteOrchestration (Failed)", result.Produced);
    }

    [Fact]
    public async Task In_flight_instance_fails_with_NonDeterministicOrchestrationException_when_restarted_with_changed_code()
    {
        await using var harness = await EngineHarness.StartAsync(r => RegisterEvolving(r, secondStep: "Reverse"));
        var id = await harness.ScheduleAsync("Evolving", "durable", "evolving-1");
        await harness.WaitForInstanceAsync(id, m => m.SerializedCustomStatus == "\"waiting\"", "to wait for go");
        var recorded = await harness.HistoryAsync(id);
        Assert.Equal("Reverse", recorded[6].TaskScheduled?.Name);

        await harness.RestartAsync(r => RegisterEvolving(r, secondStep: "Shuffle"));
        await harness.Client.RaiseEventAsync(id, "go", null, harness.Token);
        var done = await harness.WaitForCompletionAsync(id);

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.Status);
        var failure = Assert.IsType<FailureDetails>(done.FailureDetails);
        Assert.Equal(typeof(DurableTask.Core.Exceptions.NonDeterministicOrchestrationException).FullName, failure.ErrorType);
        Assert.StartsWith("Non-Deterministic workflow detected: A previous execution of this orchestration scheduled an activity task with sequence number 1 named 'Reverse'", failure.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("named 'Shuffle'", failure.ErrorMessage, StringComparison.Ordinal);
        Assert.EndsWith("(history event #6: TaskScheduled #1 'Reverse')", failure.ErrorMessage, StringComparison.Ordinal);
        Assert.True(failure.IsNonRetriable);

        // The failure is recorded after what was there; nothing the new code scheduled was kept.
        var history = await harness.HistoryAsync(id);
        Assert.Equal(recorded.Select(e => e.ToString()), history.Take(recorded.Count).Select(e => e.ToString()));
        Assert.Equal(["Upper", "Reverse"], history.Where(e => e.TaskScheduled is not null).Select(e => e.TaskScheduled.Name));
        Assert.Equal([Kind.EventRaised, Kind.ExecutionCompleted, Kind.OrchestratorCompleted], history.Kinds()[^3..]);
        Assert.Equal(Microsoft.DurableTask.Protobuf.OrchestrationStatus.Failed, history[^2].ExecutionCompleted.OrchestrationStatus);
    }

    private static void RegisterEvolving(DurableTaskRegistry r, string secondStep)
    {
        ReplayOrchestrations.Register(r);
        r.AddOrchestratorFunc<string, string>("Evolving", async (ctx, input) =>
        {
            var upper = await ctx.CallActivityAsync<string>("Upper", input);
            var second = await ctx.CallActivityAsync<string>(secondStep, upper);
            ctx.SetCustomStatus("waiting");
            await ctx.WaitForExternalEvent<string?>("go");
            return await ctx.CallActivityAsync<string>("Suffix", second);
        });
    }

    private static ReplayResult Replay(Action<DurableTaskRegistry> register, HistoryDocument document)
    {
        var registry = new DurableTaskRegistry();
        register(registry);
        return SdkOrchestrationRunner.ForReplay(registry).Replay(document.Events);
    }
}
