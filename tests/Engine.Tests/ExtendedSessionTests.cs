using KataWorkflows.Engine.Tests.Harness;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Engine.Tests;

/// <summary>
/// The code of a running orchestration waits in memory between episodes (extended sessions): an episode runs only its
/// new events. Whenever the history is not the one the waiting code saw, the episode replays it all instead.
/// </summary>
public sealed class ExtendedSessionTests
{
    /// <summary>Counts how often each instance's code was started from the top (not replay-safe on purpose).</summary>
    private sealed class Starts
    {
        private readonly Dictionary<string, int> _counts = [];

        public void Add(string instanceId)
        {
            lock (_counts)
            {
                _counts[instanceId] = _counts.GetValueOrDefault(instanceId) + 1;
            }
        }

        public int Of(string instanceId)
        {
            lock (_counts)
            {
                return _counts.GetValueOrDefault(instanceId);
            }
        }
    }

    private static void Register(DurableTaskRegistry r, Starts starts)
    {
        r.AddActivityFunc<int, int>("double", (_, x) => Task.FromResult(x * 2));

        // Four activities, a timer and an event: six episodes, each resuming the code where it waits.
        r.AddOrchestratorFunc<int, string>("steps", async (ctx, x) =>
        {
            starts.Add(ctx.InstanceId);
            var seen = new List<string>();
            for (var i = 0; i < 4; i++)
            {
                x = await ctx.CallActivityAsync<int>("double", x);
                seen.Add(x.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            await ctx.CreateTimer(ctx.CurrentUtcDateTime.AddMilliseconds(10), CancellationToken.None);
            var added = await ctx.WaitForExternalEvent<int>("add");
            return $"{x + added};{string.Join(",", seen)}";
        });
    }

    private static async Task<(string Output, int Starts, IReadOnlyList<Kind> Kinds)> RunStepsAsync(int sessions, Func<EngineHarness, Task>? beforeEvent = null)
    {
        var starts = new Starts();
        await using var harness = await EngineHarness.StartAsync(r => Register(r, starts), o => o.ConfigureWorker = w => w.MaxOrchestrationSessions = sessions);
        var id = await harness.ScheduleAsync("steps", 1, "steps-run");
        await harness.WaitForHistoryAsync(id, h => h.Any(e => e.TimerFired is not null), "to fire its timer");
        if (beforeEvent is not null)
        {
            await beforeEvent(harness);
        }

        await harness.Client.RaiseEventAsync(id, "add", 100, harness.Token);
        var done = await harness.WaitForCompletionAsync(id);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        var history = await harness.HistoryAsync(id);
        return (done.Output<string>()!, starts.Of(id), [.. history.Select(e => e.EventTypeCase)]);
    }

    [Fact]
    public async Task With_sessions_the_code_starts_once_and_leaves_the_same_history_and_result_as_full_replays()
    {
        var withSessions = await RunStepsAsync(sessions: 1024);
        var replayed = await RunStepsAsync(sessions: 0);

        Assert.Equal(1, withSessions.Starts);
        Assert.Equal("116;2,4,8,16", withSessions.Output);
        Assert.Equal(withSessions.Output, replayed.Output);
        Assert.Equal(replayed.Kinds, withSessions.Kinds);

        // Without sessions every episode replays from the top: the start, four results, the timer and the event.
        Assert.Equal(replayed.Kinds.Count(k => k == Kind.OrchestratorStarted), replayed.Starts);
        Assert.True(replayed.Starts >= 7, $"{replayed.Starts} starts");
    }

    [Fact]
    public async Task After_a_failed_commit_the_next_episode_replays_the_committed_history_instead_of_the_session()
    {
        var failOnce = 1;
        var result = await RunStepsAsync(sessions: 1024, harness =>
        {
            // The episode the event wakes runs on the session, then its commit fails: the code in memory has gone
            // past what is stored, so the retry must replay what is stored.
            harness.Observed.BeforeOrchestrationCommit = (_, checkpoint) =>
                checkpoint.NewHistory.Any(e => e.EventRaised is not null) && Interlocked.Exchange(ref failOnce, 0) == 1
                    ? throw new IOException("injected commit failure")
                    : Task.CompletedTask;
            return Task.CompletedTask;
        });

        Assert.Equal(0, failOnce);
        Assert.Equal("116;2,4,8,16", result.Output);
        Assert.Equal(2, result.Starts);
        Assert.Equal(1, result.Kinds.Count(k => k == Kind.EventRaised));
        Assert.Equal(1, result.Kinds.Count(k => k == Kind.ExecutionCompleted));
    }

    [Fact]
    public async Task A_restarted_worker_replays_the_stored_history()
    {
        var starts = new Starts();
        await using var harness = await EngineHarness.StartAsync(r => Register(r, starts));
        var id = await harness.ScheduleAsync("steps", 1, "restart-run");
        await harness.WaitForHistoryAsync(id, h => h.Any(e => e.TimerFired is not null), "to fire its timer");
        Assert.Equal(1, starts.Of(id));

        await harness.RestartAsync(r => Register(r, starts));
        await harness.Client.RaiseEventAsync(id, "add", 100, harness.Token);
        var done = await harness.WaitForCompletionAsync(id);

        Assert.Equal("116;2,4,8,16", done.Output<string>());
        Assert.Equal(2, starts.Of(id));
    }

    [Fact]
    public async Task A_terminated_run_leaves_no_session_behind()
    {
        var starts = new Starts();
        await using var harness = await EngineHarness.StartAsync(r => Register(r, starts));
        var id = await harness.ScheduleAsync("steps", 1, "terminated-run");
        await harness.WaitForHistoryAsync(id, h => h.Any(e => e.TimerFired is not null), "to fire its timer");
        Assert.Equal(1, harness.Sessions);

        await harness.Client.TerminateInstanceAsync(id, "enough", cancellation: harness.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, (await harness.WaitForCompletionAsync(id)).Status);
        Assert.Equal(0, harness.Sessions);
    }
}
