using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Orchestrations.Tests.Harness;

/// <summary>Readings of a run's history.</summary>
public static class HistoryViews
{
    /// <summary>The names of the activities scheduled, in order.</summary>
    public static IReadOnlyList<string> Scheduled(this IReadOnlyList<HistoryEvent> history) =>
        [.. history.Where(e => e.TaskScheduled is not null).Select(e => e.TaskScheduled.Name)];

    /// <summary>The names of the activities that completed, in order of completion.</summary>
    public static IReadOnlyList<string> Completed(this IReadOnlyList<HistoryEvent> history)
    {
        var names = history.Where(e => e.TaskScheduled is not null).ToDictionary(e => e.EventId, e => e.TaskScheduled.Name);
        return [.. history.Where(e => e.TaskCompleted is not null).Select(e => names[e.TaskCompleted.TaskScheduledId])];
    }

    /// <summary>The index of the failure of the first run of <paramref name="step"/>; -1 when it did not fail.</summary>
    public static int FailureOf(this IReadOnlyList<HistoryEvent> history, string step)
    {
        var scheduled = history.FirstOrDefault(e => e.TaskScheduled is not null && e.TaskScheduled.Name == step);
        if (scheduled is null)
        {
            return -1;
        }

        for (var i = 0; i < history.Count; i++)
        {
            if (history[i].TaskFailed is { } failed && failed.TaskScheduledId == scheduled.EventId)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The activities scheduled after the event at <paramref name="index"/>, in order: the compensations after a failure.</summary>
    public static IReadOnlyList<string> ScheduledAfter(this IReadOnlyList<HistoryEvent> history, int index) =>
        [.. history.Skip(index + 1).Where(e => e.TaskScheduled is not null).Select(e => e.TaskScheduled.Name)];

    /// <summary>The index of the first timer that fired; -1 when none did.</summary>
    public static int FirstTimerFired(this IReadOnlyList<HistoryEvent> history)
    {
        for (var i = 0; i < history.Count; i++)
        {
            if (history[i].TimerFired is not null)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The entity operations the run called, in order.</summary>
    public static IReadOnlyList<string> EntityCalls(this IReadOnlyList<HistoryEvent> history) =>
        [.. history.Where(e => e.EntityOperationCalled is not null).Select(e => e.EntityOperationCalled.Operation)];
}
