using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Tests.Harness;

/// <summary>Shorthands for assertions over history.</summary>
public static class HistoryExtensions
{
    /// <summary>How many events of a kind the history holds.</summary>
    public static int Count(this IEnumerable<HistoryEvent> history, HistoryEvent.EventTypeOneofCase kind) =>
        history.Count(e => e.EventTypeCase == kind);

    /// <summary>The index of the first event of a kind matching <paramref name="match"/>; -1 when there is none.</summary>
    public static int IndexOf(this IReadOnlyList<HistoryEvent> history, HistoryEvent.EventTypeOneofCase kind, Func<HistoryEvent, bool>? match = null)
    {
        for (var i = 0; i < history.Count; i++)
        {
            if (history[i].EventTypeCase == kind && (match is null || match(history[i])))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The kinds of the events, for readable sequence assertions.</summary>
    public static HistoryEvent.EventTypeOneofCase[] Kinds(this IEnumerable<HistoryEvent> history) =>
        [.. history.Select(e => e.EventTypeCase)];

    /// <summary>The kinds, leaving out the episode frame (OrchestratorStarted / OrchestratorCompleted).</summary>
    public static HistoryEvent.EventTypeOneofCase[] Steps(this IEnumerable<HistoryEvent> history) =>
        [.. history.Select(e => e.EventTypeCase).Where(k => k is not (HistoryEvent.EventTypeOneofCase.OrchestratorStarted or HistoryEvent.EventTypeOneofCase.OrchestratorCompleted))];

    /// <summary>The timestamp of the episode an event belongs to: that of the nearest OrchestratorStarted before it.</summary>
    public static DateTime EpisodeTime(this IReadOnlyList<HistoryEvent> history, int index)
    {
        for (var i = index; i >= 0; i--)
        {
            if (history[i].OrchestratorStarted is not null)
            {
                return history[i].Timestamp.ToDateTime();
            }
        }

        throw new InvalidOperationException($"Event #{index} belongs to no episode.");
    }
}
