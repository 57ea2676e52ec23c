using KataWorkflows.Engine.Tests.Harness;
using Microsoft.DurableTask.Protobuf;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Engine.Tests;

public sealed class RetryTests
{
    private static readonly TimeSpan FirstInterval = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task Activity_failing_twice_then_succeeding_completes_after_two_durable_retry_timers()
    {
        var attempts = 0;
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            r.AddActivityFunc<string, string>("flaky", (ctx, input) =>
                Interlocked.Increment(ref attempts) <= 2
                    ? throw new InvalidOperationException($"attempt {Volatile.Read(ref attempts)} failed")
                    : Task.FromResult(input + " done"));
            r.AddOrchestratorFunc<string, string>("retrying", (ctx, input) =>
                ctx.CallActivityAsync<string>("flaky", input, TaskOptions.FromRetryPolicy(new RetryPolicy(3, FirstInterval, backoffCoefficient: 2))));
        });

        var done = await harness.RunAsync("retrying", "job");

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal("\"job done\"", done.SerializedOutput);
        Assert.Equal(3, attempts);
        var history = await harness.HistoryAsync(done.InstanceId);
        Assert.Equal(
            [
                Kind.ExecutionStarted,
                Kind.TaskScheduled, Kind.TaskFailed, Kind.TimerCreated, Kind.TimerFired,
                Kind.TaskScheduled, Kind.TaskFailed, Kind.TimerCreated, Kind.TimerFired,
                Kind.TaskScheduled, Kind.TaskCompleted,
                Kind.ExecutionCompleted,
            ],
            history.Steps());

        // Each wait is a durable timer due one interval (times the backoff) after the episode that saw the failure,
        // and it fired no earlier than that.
        var timers = Enumerable.Range(0, history.Count).Where(i => history[i].TimerCreated is not null).ToArray();
        Assert.Equal(2, timers.Length);
        TimeSpan[] expected = [FirstInterval, FirstInterval * 2];
        for (var n = 0; n < timers.Length; n++)
        {
            var created = history[timers[n]];
            var fireAt = created.TimerCreated.FireAt.ToDateTime();
            Assert.Equal(expected[n], fireAt - history.EpisodeTime(timers[n]));
            var fired = history.IndexOf(Kind.TimerFired, e => e.TimerFired.TimerId == created.EventId);
            Assert.True(fired > timers[n]);
            Assert.True(history.EpisodeTime(fired) >= fireAt, $"timer #{created.EventId} fired before {fireAt:o}");
        }

        // Every retry is a new task with its own sequence number.
        var scheduled = history.Where(e => e.TaskScheduled is not null).Select(e => e.EventId).ToArray();
        Assert.Equal(3, scheduled.Distinct().Count());
        Assert.All(history.Where(e => e.TaskFailed is not null), e => Assert.Contains(e.TaskFailed.TaskScheduledId, scheduled));
    }

    [Fact]
    public async Task Exhausted_retry_policy_fails_the_orchestration_with_the_activity_failure_as_cause()
    {
        var attempts = 0;
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            r.AddActivityFunc<string, string>("broken", Task<string> (TaskActivityContext ctx, string input) =>
            {
                Interlocked.Increment(ref attempts);
                throw new InvalidOperationException("disk full");
            });
            r.AddOrchestratorFunc<string, string>("retrying", (ctx, input) =>
                ctx.CallActivityAsync<string>("broken", input, TaskOptions.FromRetryPolicy(new RetryPolicy(3, FirstInterval))));
        });

        var done = await harness.RunAsync("retrying", "job");

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.Status);
        Assert.Equal(3, attempts);
        var failure = Assert.IsType<FailureDetails>(done.FailureDetails);
        Assert.Equal(typeof(TaskFailedException).FullName, failure.ErrorType);
        Assert.Contains("'broken'", failure.ErrorMessage, StringComparison.Ordinal);
        var cause = Assert.IsType<FailureDetails>(failure.InnerFailure);
        Assert.Equal(typeof(InvalidOperationException).FullName, cause.ErrorType);
        Assert.Equal("disk full", cause.ErrorMessage);
        var history = await harness.HistoryAsync(done.InstanceId);
        Assert.Equal(3, history.Count(Kind.TaskScheduled));
        Assert.Equal(3, history.Count(Kind.TaskFailed));
        // DurableTask.Core's retry interceptor waits once more after the last attempt before it gives up.
        Assert.Equal(3, history.Count(Kind.TimerCreated));
        Assert.Equal(OrchestrationStatus.Failed, history[history.IndexOf(Kind.ExecutionCompleted)].ExecutionCompleted.OrchestrationStatus);
    }

    [Fact]
    public async Task Handle_predicate_returning_false_stops_retries_after_the_first_attempt()
    {
        var attempts = 0;
        FailureDetails? seen = null;
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            r.AddActivityFunc<string, string>("broken", Task<string> (TaskActivityContext ctx, string input) =>
            {
                Interlocked.Increment(ref attempts);
                throw new ArgumentException("bad request");
            });
            r.AddOrchestratorFunc<string, string>("retrying", (ctx, input) =>
            {
                var policy = new RetryPolicy(5, FirstInterval)
                {
                    HandleFailure = f =>
                    {
                        seen = FailureDetails.FromSdk(f);
                        return f.ErrorType != typeof(ArgumentException).FullName;
                    },
                };
                return ctx.CallActivityAsync<string>("broken", input, TaskOptions.FromRetryPolicy(policy));
            });
        });

        var done = await harness.RunAsync("retrying", "job");

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.Status);
        Assert.Equal(1, attempts);
        Assert.Equal("bad request", seen?.ErrorMessage);
        Assert.Equal("bad request", done.FailureDetails?.InnerFailure?.ErrorMessage);
        var history = await harness.HistoryAsync(done.InstanceId);
        Assert.Equal(1, history.Count(Kind.TaskScheduled));
        Assert.Equal(0, history.Count(Kind.TimerCreated));
    }

    [Fact]
    public async Task Non_retriable_failure_is_not_retried()
    {
        var attempts = 0;
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            r.AddActivityFunc<string, string>("broken", Task<string> (TaskActivityContext ctx, string input) =>
            {
                Interlocked.Increment(ref attempts);
                throw new PermanentFailureException("account closed");
            });
            r.AddOrchestratorFunc<string, string>("retrying", (ctx, input) =>
                ctx.CallActivityAsync<string>("broken", input, TaskOptions.FromRetryPolicy(new RetryPolicy(5, FirstInterval))));
        });

        var done = await harness.RunAsync("retrying", "job");

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.Status);
        Assert.Equal(1, attempts);
        var cause = Assert.IsType<FailureDetails>(done.FailureDetails?.InnerFailure);
        Assert.Equal("account closed", cause.ErrorMessage);
        var history = await harness.HistoryAsync(done.InstanceId);
        Assert.Equal(1, history.Count(Kind.TaskScheduled));
        Assert.Equal(0, history.Count(Kind.TimerCreated));
        Assert.True(history.Single(e => e.TaskFailed is not null).TaskFailed.FailureDetails.IsNonRetriable);
    }

    private sealed class PermanentFailureException(string message) : Exception(message), INonRetriable;
}
