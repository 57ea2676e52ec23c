using KataWorkflows.Engine.Sdk;
using Microsoft.DurableTask.Protobuf;
using static KataWorkflows.Engine.Tests.Sdk.ProtocolEvents;
using Dt = Microsoft.DurableTask;
using DtEntities = Microsoft.DurableTask.Entities;

namespace KataWorkflows.Engine.Tests.Sdk;

public sealed class SdkOrchestrationRunnerTests
{
    /// <summary>A class orchestrator: two activities in a row.</summary>
    private sealed class Greeter : Dt.TaskOrchestrator<string, string>
    {
        public override async Task<string> RunAsync(Dt.TaskOrchestrationContext context, string input)
        {
            var first = await context.CallActivityAsync<string>("Say", input);
            return await context.CallActivityAsync<string>("Say", first + "!");
        }
    }

    private static readonly DtEntities.EntityInstanceId CounterA = new("counter", "a");
    private static readonly DtEntities.EntityInstanceId CounterB = new("counter", "b");

    [Fact]
    public void Class_orchestrator_schedules_activities_one_after_the_other_and_completes_with_the_last_result()
    {
        var runner = EpisodeDriver.Runner(r => r.AddOrchestrator<Greeter>());
        var driver = new EpisodeDriver(runner, nameof(Greeter), "\"ann\"");

        var first = driver.Start();
        var schedule = Assert.Single(first.Actions);
        Assert.Equal(0, schedule.Id);
        Assert.Equal("Say", schedule.ScheduleTask.Name);
        Assert.Equal("\"ann\"", schedule.ScheduleTask.Input); // the SDK's ["ann"] carried as the value itself
        Assert.True(first.Replayed);

        var second = driver.Next(TaskCompleted(0, "\"hi ann\""));
        Assert.Equal("Say", Assert.Single(second.Actions).ScheduleTask.Name);
        Assert.Equal(1, second.Actions[0].Id);
        Assert.Equal("\"hi ann!\"", second.Actions[0].ScheduleTask.Input);

        var third = driver.Next(TaskCompleted(1, "\"hi hi ann!\""));
        var complete = Assert.Single(third.Actions).CompleteOrchestration;
        Assert.Equal(OrchestrationStatus.Completed, complete.OrchestrationStatus);
        Assert.Equal("\"hi hi ann!\"", complete.Result);
        Assert.Null(third.NonDeterminism);
    }

    [Fact]
    public void Retry_policy_waits_on_a_durable_timer_then_schedules_the_activity_again()
    {
        var policy = new Dt.RetryPolicy(maxNumberOfAttempts: 3, firstRetryInterval: TimeSpan.FromSeconds(10));
        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<string, string>("Retrying", (ctx, input) =>
            ctx.CallActivityAsync<string>("Flaky", input, Dt.TaskOptions.FromRetryPolicy(policy))));
        var driver = new EpisodeDriver(runner, "Retrying", "\"x\"");

        Assert.Equal("Flaky", Assert.Single(driver.Start().Actions).ScheduleTask.Name);
        var afterFailure = driver.Next(TaskFailed(0, Failure("System.IO.IOException", "disk busy")));
        var timer = Assert.Single(afterFailure.Actions);
        Assert.Equal(OrchestratorAction.OrchestratorActionTypeOneofCase.CreateTimer, timer.OrchestratorActionTypeCase);
        Assert.Equal(driver.Now + TimeSpan.FromSeconds(10), timer.CreateTimer.FireAt.ToDateTime());

        var retried = driver.Next(TimeSpan.FromSeconds(10), TimerFired(timer.Id, timer.CreateTimer.FireAt.ToDateTime()));
        var again = Assert.Single(retried.Actions);
        Assert.Equal("Flaky", again.ScheduleTask.Name);
        Assert.Equal("\"x\"", again.ScheduleTask.Input);

        var done = driver.Next(TaskCompleted(again.Id, "\"ok\""));
        Assert.Equal("\"ok\"", Assert.Single(done.Actions).CompleteOrchestration.Result);
    }

    [Fact]
    public void Timer_fires_at_the_time_the_code_asked_and_the_code_sees_the_episode_time()
    {
        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<object?, DateTime>("Sleeper", async (ctx, _) =>
        {
            await ctx.CreateTimer(ctx.CurrentUtcDateTime.AddMinutes(5), CancellationToken.None);
            return ctx.CurrentUtcDateTime;
        }));
        var driver = new EpisodeDriver(runner, "Sleeper", null);

        var timer = Assert.Single(driver.Start().Actions);
        Assert.Equal(T0.AddMinutes(5), timer.CreateTimer.FireAt.ToDateTime());

        var done = driver.Next(TimeSpan.FromMinutes(5), TimerFired(timer.Id, T0.AddMinutes(5)));
        Assert.Equal("\"2026-03-01T12:05:00Z\"", Assert.Single(done.Actions).CompleteOrchestration.Result);
    }

    [Fact]
    public void External_event_resumes_the_code_with_its_payload_and_custom_status_is_reported()
    {
        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<object?, int>("Approval", async (ctx, _) =>
        {
            ctx.SetCustomStatus(new { stage = "waiting" });
            var amount = await ctx.WaitForExternalEvent<int>("approve");
            ctx.SetCustomStatus(new { stage = "approved" });
            return amount * 2;
        }));
        var driver = new EpisodeDriver(runner, "Approval", null);

        var waiting = driver.Start();
        Assert.Empty(waiting.Actions);
        Assert.Equal("{\"stage\":\"waiting\"}", waiting.CustomStatus);

        var done = driver.Next(EventRaised("approve", "21"));
        Assert.Equal("42", Assert.Single(done.Actions).CompleteOrchestration.Result);
        Assert.Equal("{\"stage\":\"approved\"}", done.CustomStatus);
    }

    [Fact]
    public void Sub_orchestration_is_created_under_the_given_id_and_its_failure_reaches_the_parent_with_details()
    {
        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<string, string>("Parent", async (ctx, input) =>
        {
            var ok = await ctx.CallSubOrchestratorAsync<string>("Child", input, new Dt.SubOrchestrationOptions { InstanceId = "child-1" });
            try
            {
                await ctx.CallSubOrchestratorAsync<string>("Child", "\"boom\"", new Dt.SubOrchestrationOptions { InstanceId = "child-2" });
                return "unexpected";
            }
            catch (Dt.TaskFailedException e)
            {
                return $"{ok}|{e.FailureDetails.ErrorType}|{e.FailureDetails.ErrorMessage}|{e.FailureDetails.InnerFailure?.ErrorType}";
            }
        }));
        var driver = new EpisodeDriver(runner, "Parent", "\"in\"");

        var create = Assert.Single(driver.Start().Actions).CreateSubOrchestration;
        Assert.Equal("child-1", create.InstanceId);
        Assert.Equal("Child", create.Name);
        Assert.Equal("\"in\"", create.Input);

        var second = Assert.Single(driver.Next(SubOrchestrationCompleted(0, "\"one\"")).Actions);
        Assert.Equal("child-2", second.CreateSubOrchestration.InstanceId);

        var failure = Failure("KataWorkflows.SandboxException", "vm did not boot", Failure("System.TimeoutException", "qmp"));
        var done = driver.Next(SubOrchestrationFailed(second.Id, failure));
        Assert.Equal("\"one|KataWorkflows.SandboxException|vm did not boot|System.TimeoutException\"", Assert.Single(done.Actions).CompleteOrchestration.Result);
    }

    [Fact]
    public void Unhandled_activity_failure_fails_the_orchestration_with_the_activity_failure_inside()
    {
        var runner = EpisodeDriver.Runner(r => r.AddOrchestrator<Greeter>());
        var driver = new EpisodeDriver(runner, nameof(Greeter), "\"ann\"");
        driver.Start();

        var done = driver.Next(TaskFailed(0, Failure("System.InvalidOperationException", "no voice", Failure("System.IO.IOException", "speaker"))));

        var complete = Assert.Single(done.Actions).CompleteOrchestration;
        Assert.Equal(OrchestrationStatus.Failed, complete.OrchestrationStatus);
        Assert.Equal(typeof(Dt.TaskFailedException).FullName, complete.FailureDetails.ErrorType);
        Assert.Equal("System.InvalidOperationException", complete.FailureDetails.InnerFailure.ErrorType);
        Assert.Equal("no voice", complete.FailureDetails.InnerFailure.ErrorMessage);
        Assert.Equal("System.IO.IOException", complete.FailureDetails.InnerFailure.InnerFailure.ErrorType);
    }

    [Fact]
    public void Continue_as_new_restarts_with_the_new_input_and_carries_unprocessed_events_over()
    {
        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<int, int>("Looper", async (ctx, n) =>
        {
            await ctx.WaitForExternalEvent<string>("go");
            ctx.ContinueAsNew(n + 1, preserveUnprocessedEvents: true);
            return n;
        }));
        var driver = new EpisodeDriver(runner, "Looper", "1");
        Assert.Empty(driver.Start().Actions);

        var done = driver.Next(EventRaised("go", "\"a\""), EventRaised("later", "\"b\""));

        var complete = Assert.Single(done.Actions).CompleteOrchestration;
        Assert.Equal(OrchestrationStatus.ContinuedAsNew, complete.OrchestrationStatus);
        Assert.Equal("2", complete.Result);
        var carried = Assert.Single(complete.CarryoverEvents);
        Assert.Equal("later", carried.EventRaised.Name);
        Assert.Equal("\"b\"", carried.EventRaised.Input);
    }

    [Fact]
    public void Entities_are_signalled_called_and_locked_through_explicit_protocol_entity_messages()
    {
        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<object?, int>("Entities", async (ctx, _) =>
        {
            await ctx.Entities.SignalEntityAsync(CounterB, "add", 1);
            var a = await ctx.Entities.CallEntityAsync<int>(CounterA, "get");
            await using (await ctx.Entities.LockEntitiesAsync(CounterB, CounterA))
            {
                a += await ctx.Entities.CallEntityAsync<int>(CounterB, "add", 5);
            }

            return a;
        }));
        var driver = new EpisodeDriver(runner, "Entities", null);

        var first = driver.Start().Actions;
        Assert.Equal(2, first.Count);
        var signal = first[0].SendEntityMessage.EntityOperationSignaled;
        Assert.Equal("@counter@b", signal.TargetInstanceId);
        Assert.Equal("add", signal.Operation);
        Assert.Equal("1", signal.Input);
        Assert.True(Guid.TryParse(signal.RequestId, out _));
        var call = first[1].SendEntityMessage.EntityOperationCalled;
        Assert.Equal("@counter@a", call.TargetInstanceId);
        Assert.Equal("get", call.Operation);
        Assert.Equal("i1", call.ParentInstanceId);
        Assert.Equal("e1", call.ParentExecutionId);
        Assert.Null(call.Input);

        var locking = Assert.Single(driver.Next(EntityCompleted(call.RequestId, "7")).Actions).SendEntityMessage.EntityLockRequested;
        Assert.Equal(["@counter@a", "@counter@b"], locking.LockSet);
        Assert.Equal(0, locking.Position);
        Assert.Equal("i1", locking.ParentInstanceId);

        var inSection = Assert.Single(driver.Next(LockGranted(locking.CriticalSectionId)).Actions).SendEntityMessage.EntityOperationCalled;
        Assert.Equal("@counter@b", inSection.TargetInstanceId);
        Assert.Equal("add", inSection.Operation);
        Assert.Equal("5", inSection.Input);

        var end = driver.Next(EntityCompleted(inSection.RequestId, "6")).Actions;
        Assert.Equal(3, end.Count);
        var unlocks = end.Take(2).Select(a => a.SendEntityMessage.EntityUnlockSent).ToList();
        Assert.All(unlocks, u => Assert.Equal(locking.CriticalSectionId, u.CriticalSectionId));
        Assert.Equal(["@counter@a", "@counter@b"], unlocks.Select(u => u.TargetInstanceId).Order());
        Assert.Equal("13", end[2].CompleteOrchestration.Result);

        // The committed history, explicit entity events and all, replays to the same end without a complaint.
        var replay = driver.Replay();
        Assert.Null(replay.NonDeterminism);
    }

    [Fact]
    public void Entity_operation_failure_reaches_the_orchestration_with_its_failure_details()
    {
        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<object?, string>("Caller", async (ctx, _) =>
        {
            try
            {
                await ctx.Entities.CallEntityAsync<int>(CounterA, "explode");
                return "unexpected";
            }
            catch (Dt.Entities.EntityOperationFailedException e)
            {
                return $"{e.FailureDetails.ErrorType}|{e.FailureDetails.ErrorMessage}|{e.FailureDetails.InnerFailure?.ErrorMessage}";
            }
        }));
        var driver = new EpisodeDriver(runner, "Caller", null);
        var call = Assert.Single(driver.Start().Actions).SendEntityMessage.EntityOperationCalled;

        var done = driver.Next(EntityFailed(call.RequestId, Failure("System.DivideByZeroException", "zero", Failure("System.ArithmeticException", "inner"))));

        Assert.Equal("\"System.DivideByZeroException|zero|inner\"", Assert.Single(done.Actions).CompleteOrchestration.Result);
    }

    [Fact]
    public void A_signal_scheduled_past_the_maximum_timer_interval_keeps_its_time_and_replays_deterministically()
    {
        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<object?, string>("Later", async (ctx, _) =>
        {
            await ctx.Entities.SignalEntityAsync(CounterA, "add", 1, new Dt.Entities.SignalEntityOptions { SignalTime = ctx.CurrentUtcDateTime.AddDays(10) });
            await ctx.Entities.SignalEntityAsync(CounterB, "add", 2, new Dt.Entities.SignalEntityOptions { SignalTime = ctx.CurrentUtcDateTime.AddHours(1) });
            await ctx.CreateTimer(TimeSpan.FromMinutes(1), CancellationToken.None);
            return "done";
        }));
        var driver = new EpisodeDriver(runner, "Later", null);

        var first = driver.Start().Actions;
        Assert.Equal(T0.AddDays(10), first[0].SendEntityMessage.EntityOperationSignaled.ScheduledTime.ToDateTime());
        Assert.Equal(T0.AddHours(1), first[1].SendEntityMessage.EntityOperationSignaled.ScheduledTime.ToDateTime());

        var done = driver.Next(TimeSpan.FromMinutes(1), TimerFired(first[2].Id, T0.AddMinutes(1)));

        Assert.Null(done.NonDeterminism);
        Assert.Equal("\"done\"", Assert.Single(done.Actions).CompleteOrchestration.Result);
    }

    [Fact]
    public void Code_that_calls_another_activity_than_the_history_recorded_is_reported_with_the_event_index()
    {
        var runner = EpisodeDriver.Runner(r => r.AddOrchestratorFunc<object?, string>("Changed", (ctx, _) => ctx.CallActivityAsync<string>("C")));
        List<HistoryEvent> past =
        [
            OrchestratorStarted(T0),
            ExecutionStarted("Changed", null),
            TaskScheduled(0, "A"),
            OrchestratorCompleted(T0),
        ];

        var result = runner.Run(past, [OrchestratorStarted(T0.AddSeconds(1)), TaskCompleted(0, "\"a\"")]);

        var nd = Assert.IsType<SdkNonDeterminism>(result.NonDeterminism);
        Assert.Equal(2, nd.EventIndex);
        Assert.Same(past[2], nd.Recorded);
        Assert.Equal("TaskScheduled #0 'A'", nd.RecordedDescription);
        Assert.Contains("named 'A'", nd.Message, StringComparison.Ordinal);
        Assert.Contains("named 'C'", nd.Message, StringComparison.Ordinal);
        var complete = result.Completion!;
        Assert.Equal(OrchestrationStatus.Failed, complete.OrchestrationStatus);
        Assert.Equal("DurableTask.Core.Exceptions.NonDeterministicOrchestrationException", complete.FailureDetails.ErrorType);
    }

    [Fact]
    public void An_unknown_orchestrator_fails_without_running_anything()
    {
        var runner = EpisodeDriver.Runner(_ => { });
        var result = runner.Run([], [OrchestratorStarted(T0), ExecutionStarted("Nobody", null)]);

        var complete = result.Completion!;
        Assert.Equal(OrchestrationStatus.Failed, complete.OrchestrationStatus);
        Assert.Equal(SdkOrchestrationRunner.OrchestratorNotFoundErrorType, complete.FailureDetails.ErrorType);
        Assert.True(complete.FailureDetails.IsNonRetriable);
        Assert.Contains("'Nobody'", complete.FailureDetails.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_history_without_execution_started_is_rejected_with_a_clear_error()
    {
        var runner = EpisodeDriver.Runner(r => r.AddOrchestrator<Greeter>());
        var e = Assert.Throws<ArgumentException>(() => runner.Run([], [OrchestratorStarted(T0), TaskCompleted(0, "1")]));
        Assert.Contains("no ExecutionStarted", e.Message, StringComparison.Ordinal);
    }
}
