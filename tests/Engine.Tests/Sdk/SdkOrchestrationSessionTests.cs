using Microsoft.DurableTask.Protobuf;
using static KataWorkflows.Engine.Tests.Sdk.ProtocolEvents;
using Dt = Microsoft.DurableTask;
using DtEntities = Microsoft.DurableTask.Entities;

namespace KataWorkflows.Engine.Tests.Sdk;

public sealed class SdkOrchestrationSessionTests
{
    private static KataWorkflows.Engine.Sdk.SdkOrchestrationRunner ChainRunner(int steps) => EpisodeDriver.Runner(r => r.AddOrchestratorFunc<int, int>("Chain", async (ctx, x) =>
    {
        for (var i = 0; i < steps; i++)
        {
            x = await ctx.CallActivityAsync<int>("Inc", x);
        }

        return x;
    }));

    [Fact]
    public void A_session_runs_only_new_events_after_the_first_episode_and_produces_what_full_replay_produces()
    {
        var runner = ChainRunner(3);
        var session = new EpisodeDriver(runner, "Chain", "1", session: true);
        var replaying = new EpisodeDriver(runner, "Chain", "1");

        List<(bool Replayed, List<OrchestratorAction> Actions)> sessionRuns = [];
        List<List<OrchestratorAction>> replayRuns = [];
        var first = session.Start();
        sessionRuns.Add((first.Replayed, [.. first.Actions]));
        replayRuns.Add([.. replaying.Start().Actions]);
        for (var i = 0; i < 3; i++)
        {
            var s = session.Next(TaskCompleted(i, (2 + i).ToString(System.Globalization.CultureInfo.InvariantCulture)));
            sessionRuns.Add((s.Replayed, [.. s.Actions]));
            replayRuns.Add([.. replaying.Next(TaskCompleted(i, (2 + i).ToString(System.Globalization.CultureInfo.InvariantCulture))).Actions]);
        }

        Assert.Equal([true, false, false, false], sessionRuns.Select(r => r.Replayed));
        Assert.Equal(replayRuns, sessionRuns.Select(r => r.Actions));
        Assert.Equal("4", sessionRuns[^1].Actions.Single().CompleteOrchestration.Result);
        Assert.Equal(replaying.History, session.History);
    }

    [Fact]
    public void A_history_the_session_did_not_see_is_replayed_in_full()
    {
        var runner = ChainRunner(3);
        var elsewhere = new EpisodeDriver(runner, "Chain", "1");
        elsewhere.Start();
        var afterOne = elsewhere.History.ToList();
        elsewhere.Next(TaskCompleted(0, "2"));

        var session = runner.CreateSession();
        var first = session.RunEpisode([], afterOne[..2]);
        Assert.True(first.Replayed);
        Assert.Equal("Inc", Assert.Single(first.Actions).ScheduleTask.Name);

        // Another worker ran the second episode: the committed history holds an episode this session never ran.
        var third = session.RunEpisode(elsewhere.History, [OrchestratorStarted(T0.AddSeconds(5)), TaskCompleted(1, "3")]);

        Assert.True(third.Replayed);
        Assert.Equal("Inc", Assert.Single(third.Actions).ScheduleTask.Name);
        Assert.Equal(2, third.Actions[0].Id);
    }

    [Fact]
    public void An_episode_another_worker_ran_without_actions_is_not_skipped()
    {
        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<object?, string>("TwoEvents", async (ctx, _) =>
        {
            var a = await ctx.WaitForExternalEvent<string>("a");
            var b = await ctx.WaitForExternalEvent<string>("b");
            return a + b;
        }));
        var elsewhere = new EpisodeDriver(runner, "TwoEvents", null);
        elsewhere.Start();
        var session = runner.CreateSession();
        session.RunEpisode([], elsewhere.History[..2]);

        // Another worker delivered "a"; that episode produced no action, so only its OrchestratorStarted shows it.
        elsewhere.Next(EventRaised("a", "\"x\""));
        var done = session.RunEpisode(elsewhere.History, [OrchestratorStarted(T0.AddSeconds(5)), EventRaised("b", "\"y\"")]);

        Assert.True(done.Replayed);
        Assert.Equal("\"xy\"", Assert.Single(done.Actions).CompleteOrchestration.Result);
    }

    [Fact]
    public void An_episode_offered_again_after_its_commit_failed_is_replayed_on_the_shorter_history()
    {
        var runner = ChainRunner(3);
        var driver = new EpisodeDriver(runner, "Chain", "1");
        driver.Start();
        var committed = driver.History.ToList();

        var session = runner.CreateSession();
        session.RunEpisode([], committed[..2]);
        var second = session.RunEpisode(committed, [OrchestratorStarted(T0.AddSeconds(1)), TaskCompleted(0, "2")]);
        Assert.False(second.Replayed);

        // That episode's checkpoint did not commit: the store offers it again on the history before it.
        var again = session.RunEpisode(committed, [OrchestratorStarted(T0.AddSeconds(2)), TaskCompleted(0, "2")]);

        Assert.True(again.Replayed);
        Assert.Equal(1, Assert.Single(again.Actions).Id);
        Assert.Equal("2", again.Actions[0].ScheduleTask.Input);
    }

    [Fact]
    public void A_session_whose_last_seen_event_differs_from_the_committed_one_replays()
    {
        var runner = ChainRunner(2);
        var driver = new EpisodeDriver(runner, "Chain", "1", session: true);
        driver.Start();
        var committed = driver.History.ToList();
        committed[1] = ExecutionStarted("Chain", "10"); // a different start than the one the session ran

        var session = runner.CreateSession();
        session.RunEpisode([], [OrchestratorStarted(T0), ExecutionStarted("Chain", "1")]);
        var next = session.RunEpisode(committed, [OrchestratorStarted(T0.AddSeconds(1)), TaskCompleted(0, "11")]);

        Assert.True(next.Replayed);
        Assert.Equal("11", Assert.Single(next.Actions).ScheduleTask.Input);
    }

    [Fact]
    public void A_critical_section_runs_through_a_session_as_through_replay()
    {
        var a = new DtEntities.EntityInstanceId("counter", "a");
        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<object?, int>("Locked", async (ctx, _) =>
        {
            await using (await ctx.Entities.LockEntitiesAsync(a))
            {
                return await ctx.Entities.CallEntityAsync<int>(a, "add", 2);
            }
        }));
        var driver = new EpisodeDriver(runner, "Locked", null, session: true);

        var request = Assert.Single(driver.Start().Actions).SendEntityMessage.EntityLockRequested;
        var granted = driver.Next(LockGranted(request.CriticalSectionId));
        var call = Assert.Single(granted.Actions).SendEntityMessage.EntityOperationCalled;
        var done = driver.Next(EntityCompleted(call.RequestId, "2"));

        Assert.False(granted.Replayed);
        Assert.False(done.Replayed);
        Assert.Equal(OrchestratorAction.OrchestratorActionTypeOneofCase.SendEntityMessage, done.Actions[0].OrchestratorActionTypeCase);
        Assert.Equal("@counter@a", done.Actions[0].SendEntityMessage.EntityUnlockSent.TargetInstanceId);
        Assert.Equal("2", done.Actions[1].CompleteOrchestration.Result);
        Assert.Null(driver.Replay().NonDeterminism);
    }

    [Fact]
    public void A_session_ends_with_its_execution()
    {
        var runner = ChainRunner(1);
        var session = runner.CreateSession();
        session.RunEpisode([], [OrchestratorStarted(T0), ExecutionStarted("Chain", "1")]);
        Assert.False(session.IsCompleted);

        var driver = new EpisodeDriver(runner, "Chain", "1");
        driver.Start();
        var done = session.RunEpisode(driver.History, [OrchestratorStarted(T0.AddSeconds(1)), TaskCompleted(0, "2")]);

        Assert.Equal(OrchestrationStatus.Completed, done.Completion!.OrchestrationStatus);
        Assert.True(session.IsCompleted);
    }

    [Fact]
    public void A_session_goes_on_with_the_execution_that_continued_as_new()
    {
        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<int, int>("Looper", async (ctx, n) =>
        {
            await ctx.WaitForExternalEvent<string>("go");
            ctx.ContinueAsNew(n + 1);
            return n;
        }));
        var session = runner.CreateSession();
        List<HistoryEvent> first = [OrchestratorStarted(T0), ExecutionStarted("Looper", "1")];
        session.RunEpisode([], first);
        List<HistoryEvent> committed = [.. first, OrchestratorCompleted(T0)];
        var continued = session.RunEpisode(committed, [OrchestratorStarted(T0.AddSeconds(1)), EventRaised("go", "\"a\"")]);
        Assert.Equal(OrchestrationStatus.ContinuedAsNew, continued.Completion!.OrchestrationStatus);
        Assert.True(session.IsCompleted);

        List<HistoryEvent> second = [OrchestratorStarted(T0.AddSeconds(2)), ExecutionStarted("Looper", continued.Completion.Result, executionId: "e2")];
        var started = session.RunEpisode([], second);
        Assert.True(started.Replayed);
        Assert.False(session.IsCompleted);
        var again = session.RunEpisode([.. second, OrchestratorCompleted(T0.AddSeconds(2))], [OrchestratorStarted(T0.AddSeconds(3)), EventRaised("go", "\"b\"")]);

        Assert.False(again.Replayed);
        Assert.Equal("3", again.Completion!.Result);
    }

    [Fact]
    public void Failure_details_reach_code_kept_in_a_session()
    {
        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<object?, string>("Catcher", async (ctx, _) =>
        {
            await ctx.CallActivityAsync("First");
            try
            {
                await ctx.CallActivityAsync("Second");
                return "unexpected";
            }
            catch (Dt.TaskFailedException e)
            {
                return e.FailureDetails.ErrorType + ":" + e.FailureDetails.ErrorMessage;
            }
        }));
        var driver = new EpisodeDriver(runner, "Catcher", null, session: true);
        driver.Start();
        driver.Next(TaskCompleted(0, null));

        var done = driver.Next(TaskFailed(1, Failure("System.TimeoutException", "agent silent")));

        Assert.False(done.Replayed);
        Assert.Equal("\"System.TimeoutException:agent silent\"", Assert.Single(done.Actions).CompleteOrchestration.Result);
    }
}
