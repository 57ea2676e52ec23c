using KataWorkflows.Orchestrations.Client;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

public sealed class RunStepReaderTests
{
    [Fact]
    public void After_a_step_fails_its_retries_are_steps_and_everything_else_undoes_for_good()
    {
        var labels = Read(
            Scheduled(1, "a"), Completed(1),
            Scheduled(2, "b"), Failed(2),
            TimerCreated(3), TimerFired(3), // the retry's wait
            Scheduled(4, "b"), Failed(4),
            Scheduled(5, "undo-a"), Completed(5),
            Scheduled(6, "b")); // after the undo began, even the failed step's name is an undo

        Assert.Equal(
            ["a started", "a completed", "b started", "b failed", "b started", "b failed", "undo-a started (undo)", "undo-a completed (undo)", "b started (undo)"],
            labels);
    }

    [Fact]
    public void A_step_timeout_that_fires_while_its_step_runs_turns_the_following_steps_into_undos()
    {
        var labels = Read(
            Scheduled(1, "a"), TimerCreated(2), Completed(1),
            Scheduled(3, "b"), TimerCreated(4), TimerFired(4),
            Scheduled(5, "undo-a"), Completed(3));

        Assert.Equal(["a started", "a completed", "b started", "undo-a started (undo)", "b completed"], labels);
    }

    [Fact]
    public void A_step_timeout_that_fires_after_its_step_ended_changes_nothing()
    {
        var labels = Read(
            Scheduled(1, "a"), TimerCreated(2), Completed(1),
            Scheduled(3, "b"), TimerCreated(4),
            TimerFired(2), // a's timeout, long after a completed
            Completed(3),
            Scheduled(5, "c"));

        Assert.Equal(["a started", "a completed", "b started", "b completed", "c started"], labels);
    }

    private static List<string> Read(params HistoryEvent[] history)
    {
        var reader = new RunStepReader();
        return [.. history.Select(reader.Read).OfType<RunStep>().Select(s => $"{s.Name} {s.Kind.ToString().ToLowerInvariant()}{(s.Compensation ? " (undo)" : string.Empty)}")];
    }

    private static HistoryEvent Scheduled(int id, string name) => new() { EventId = id, TaskScheduled = new TaskScheduledEvent { Name = name } };

    private static HistoryEvent Completed(int id) => new() { EventId = -1, TaskCompleted = new TaskCompletedEvent { TaskScheduledId = id } };

    private static HistoryEvent Failed(int id) => new() { EventId = -1, TaskFailed = new TaskFailedEvent { TaskScheduledId = id } };

    private static HistoryEvent TimerCreated(int id) => new() { EventId = id, TimerCreated = new TimerCreatedEvent() };

    private static HistoryEvent TimerFired(int id) => new() { EventId = -1, TimerFired = new TimerFiredEvent { TimerId = id } };
}
