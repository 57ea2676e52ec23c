using System.Globalization;
using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using KataWorkflows.Orchestrations.Client;
using Microsoft.DurableTask.Protobuf;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Cli.Output;

/// <summary>One history event as <c>kwf wf history</c> shows it.</summary>
/// <param name="Index">Its position in the history.</param>
/// <param name="Time">When it was recorded.</param>
/// <param name="Type">The event type (<c>TaskScheduled</c>...).</param>
/// <param name="Name">What it is about: the activity, timer, event, entity operation or orchestration.</param>
/// <param name="Duration">For an event that ends something (a task, a timer, a call, the run): how long since it began.</param>
/// <param name="Result">The result, or the failure as <c>Type: message</c>.</param>
/// <param name="Failed">True when the event records a failure.</param>
/// <param name="Compensation">True for a step scheduled to undo earlier ones after a step failed.</param>
public sealed record HistoryRow(int Index, DateTime? Time, string Type, string? Name, TimeSpan? Duration, string? Result, bool Failed, bool Compensation);

/// <summary>Turns a run's history into rows: pairs each end event with its start for names and durations.</summary>
public static class HistoryView
{
    /// <summary>The rows of a history, in order.</summary>
    public static IReadOnlyList<HistoryRow> Rows(IReadOnlyList<HistoryEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var steps = new RunStepReader();
        var tasks = new Dictionary<int, (string Name, DateTime Time)>();
        var timers = new Dictionary<int, DateTime>();
        var subOrchestrations = new Dictionary<int, (string Name, DateTime Time)>();
        var entityCalls = new Dictionary<string, (string Name, DateTime Time)>(StringComparer.Ordinal);
        var locks = new Dictionary<string, (string Name, DateTime Time)>(StringComparer.Ordinal);
        DateTime? started = null;
        var rows = new List<HistoryRow>(events.Count);
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            var time = e.Timestamp is null ? (DateTime?)null : e.Timestamp.ToDateTime();
            var at = time ?? DateTime.MinValue;
            string? name = null;
            TimeSpan? duration = null;
            string? result = null;
            var failed = false;
            var compensation = steps.Read(e)?.Compensation ?? false;
            switch (e.EventTypeCase)
            {
                case Kind.ExecutionStarted:
                    started = time;
                    name = e.ExecutionStarted.Name;
                    result = e.ExecutionStarted.Input;
                    break;
                case Kind.ExecutionCompleted:
                    name = InstanceView.StatusName(e.ExecutionCompleted.OrchestrationStatus);
                    duration = Since(started, time);
                    failed = e.ExecutionCompleted.FailureDetails is not null;
                    result = failed ? InstanceView.Failure(e.ExecutionCompleted.FailureDetails) : e.ExecutionCompleted.Result;
                    break;
                case Kind.ExecutionTerminated:
                    duration = Since(started, time);
                    result = e.ExecutionTerminated.Input;
                    failed = true;
                    break;
                case Kind.TaskScheduled:
                    name = e.TaskScheduled.Name;
                    tasks[e.EventId] = (name, at);
                    result = e.TaskScheduled.Input;
                    break;
                case Kind.TaskCompleted when tasks.TryGetValue(e.TaskCompleted.TaskScheduledId, out var task):
                    name = task.Name;
                    duration = Since(task.Time, time);
                    result = e.TaskCompleted.Result;
                    break;
                case Kind.TaskCompleted:
                    result = e.TaskCompleted.Result;
                    break;
                case Kind.TaskFailed:
                    if (tasks.TryGetValue(e.TaskFailed.TaskScheduledId, out var failedTask))
                    {
                        name = failedTask.Name;
                        duration = Since(failedTask.Time, time);
                    }

                    failed = true;
                    result = InstanceView.Failure(e.TaskFailed.FailureDetails);
                    break;
                case Kind.TimerCreated:
                    timers[e.EventId] = at;
                    name = "fires " + InstanceView.Time(e.TimerCreated.FireAt);
                    break;
                case Kind.TimerFired:
                    name = "timer #" + e.TimerFired.TimerId.ToString(CultureInfo.InvariantCulture);
                    duration = timers.TryGetValue(e.TimerFired.TimerId, out var timer) ? Since(timer, time) : null;
                    break;
                case Kind.SubOrchestrationInstanceCreated:
                    name = e.SubOrchestrationInstanceCreated.Name;
                    subOrchestrations[e.EventId] = (name, at);
                    result = e.SubOrchestrationInstanceCreated.InstanceId;
                    break;
                case Kind.SubOrchestrationInstanceCompleted:
                    (name, duration) = Ended(subOrchestrations, e.SubOrchestrationInstanceCompleted.TaskScheduledId, time);
                    result = e.SubOrchestrationInstanceCompleted.Result;
                    break;
                case Kind.SubOrchestrationInstanceFailed:
                    (name, duration) = Ended(subOrchestrations, e.SubOrchestrationInstanceFailed.TaskScheduledId, time);
                    failed = true;
                    result = InstanceView.Failure(e.SubOrchestrationInstanceFailed.FailureDetails);
                    break;
                case Kind.EventRaised:
                    name = e.EventRaised.Name;
                    result = e.EventRaised.Input;
                    break;
                case Kind.EventSent:
                    name = $"{e.EventSent.Name} -> {e.EventSent.InstanceId}";
                    result = e.EventSent.Input;
                    break;
                case Kind.EntityOperationCalled:
                    name = $"{e.EntityOperationCalled.Operation} {e.EntityOperationCalled.TargetInstanceId}";
                    entityCalls[e.EntityOperationCalled.RequestId] = (name, at);
                    result = e.EntityOperationCalled.Input;
                    break;
                case Kind.EntityOperationSignaled:
                    name = $"{e.EntityOperationSignaled.Operation} {e.EntityOperationSignaled.TargetInstanceId}";
                    result = e.EntityOperationSignaled.Input;
                    break;
                case Kind.EntityOperationCompleted:
                    (name, duration) = Ended(entityCalls, e.EntityOperationCompleted.RequestId, time);
                    result = e.EntityOperationCompleted.Output;
                    break;
                case Kind.EntityOperationFailed:
                    (name, duration) = Ended(entityCalls, e.EntityOperationFailed.RequestId, time);
                    failed = true;
                    result = InstanceView.Failure(e.EntityOperationFailed.FailureDetails);
                    break;
                case Kind.EntityLockRequested:
                    name = string.Join(", ", e.EntityLockRequested.LockSet);
                    locks[e.EntityLockRequested.CriticalSectionId] = (name, at);
                    break;
                case Kind.EntityLockGranted:
                    (name, duration) = Ended(locks, e.EntityLockGranted.CriticalSectionId, time);
                    break;
                case Kind.EntityUnlockSent:
                    name = e.EntityUnlockSent.TargetInstanceId;
                    break;
                case Kind.ExecutionSuspended:
                    result = e.ExecutionSuspended.Input;
                    break;
                case Kind.ExecutionResumed:
                    result = e.ExecutionResumed.Input;
                    break;
                case Kind.ContinueAsNew:
                    result = e.ContinueAsNew.Input;
                    break;
            }

            rows.Add(new HistoryRow(i, time, e.EventTypeCase.ToString(), name, duration, result, failed, compensation));
        }

        return rows;
    }

    /// <summary>The table of <c>kwf wf history</c>; <paramref name="all"/> keeps the replay markers (OrchestratorStarted/Completed).</summary>
    public static Table Table(IEnumerable<HistoryRow> rows, bool all)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var table = new Table("#", "time", "type", "name", "duration", "result");
        foreach (var row in rows.Where(r => all || !IsMarker(r.Type)))
        {
            table.Add(
                row.Index.ToString(CultureInfo.InvariantCulture),
                row.Time?.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture),
                row.Compensation ? row.Type + " (undo)" : row.Type,
                row.Name,
                row.Duration is { } d ? JsonText.Duration(d) : string.Empty,
                row.Failed ? "FAILED " + JsonText.Shorten(row.Result, 100) : JsonText.Shorten(row.Result, 60));
        }

        return table;
    }

    /// <summary>The JSON form of the rows.</summary>
    public static JsonArray ToJson(IEnumerable<HistoryRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var array = new JsonArray();
        foreach (var row in rows)
        {
            var obj = JsonText.Obj(
                ("index", row.Index),
                ("time", row.Time is { } t ? InstanceView.Time(Timestamp.FromDateTime(DateTime.SpecifyKind(t, DateTimeKind.Utc))) : null),
                ("type", row.Type),
                ("name", row.Name),
                ("durationMs", row.Duration is { } d ? Math.Round(d.TotalMilliseconds, 3) : null),
                ("result", row.Result),
                ("failed", row.Failed),
                ("compensation", row.Compensation));
            array.Add(obj);
        }

        return array;
    }

    private static bool IsMarker(string type) => type is nameof(Kind.OrchestratorStarted) or nameof(Kind.OrchestratorCompleted);

    private static (string? Name, TimeSpan? Duration) Ended<TKey>(Dictionary<TKey, (string Name, DateTime Time)> begun, TKey key, DateTime? time)
        where TKey : notnull =>
        begun.TryGetValue(key, out var start) ? (start.Name, Since(start.Time, time)) : (null, null);

    private static TimeSpan? Since(DateTime? start, DateTime? end) =>
        start is { } s && end is { } e && s != DateTime.MinValue ? e - s : null;
}
