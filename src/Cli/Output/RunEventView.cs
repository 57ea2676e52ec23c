using System.Globalization;
using System.Text.Json.Nodes;
using KataWorkflows.Protocol.V1;

namespace KataWorkflows.Cli.Output;

/// <summary>How a step of a run in progress (a <see cref="RunEvent"/> from WatchRun) is shown live.</summary>
public static class RunEventView
{
    /// <summary>True for the event that ends the run.</summary>
    public static bool IsFinal(RunEvent runEvent)
    {
        ArgumentNullException.ThrowIfNull(runEvent);
        return runEvent.Kind is "run_completed" or "run_failed" or "run_terminated";
    }

    /// <summary>
    /// One line: time, a marker (<c>&gt;</c> started, <c>ok</c>, <c>FAILED</c>; compensations as <c>undo</c>), the step,
    /// its duration and detail.
    /// </summary>
    public static string Line(RunEvent runEvent)
    {
        ArgumentNullException.ThrowIfNull(runEvent);
        var time = runEvent.Time is null ? "--:--:--.---" : runEvent.Time.ToDateTime().ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
        var duration = runEvent.DurationMs > 0 ? $" ({JsonText.Duration(TimeSpan.FromMilliseconds(runEvent.DurationMs))})" : string.Empty;
        var detail = string.IsNullOrEmpty(runEvent.Detail) ? string.Empty : ": " + JsonText.Shorten(runEvent.Detail, 160);
        var text = runEvent.Kind switch
        {
            "step_started" => $"  >    {runEvent.Name}",
            "step_completed" => $"  ok   {runEvent.Name}{duration}",
            "step_failed" => $"  FAIL {runEvent.Name}{duration}{detail}",
            "compensation_started" => $"  >    undo {runEvent.Name}  [compensation]",
            "compensation_completed" => $"  ok   undo {runEvent.Name}{duration}  [compensation]",
            "compensation_failed" => $"  FAIL undo {runEvent.Name}{duration}{detail}  [compensation]",
            "run_completed" => $"run completed{duration}",
            "run_failed" => $"run failed{duration}{detail}",
            "run_terminated" => $"run terminated{duration}{detail}",
            _ => $"  {runEvent.Kind} {runEvent.Name}{duration}{detail}",
        };
        return $"{time}  {text}";
    }

    /// <summary>The JSON form of a step event.</summary>
    public static JsonObject ToJson(RunEvent runEvent)
    {
        ArgumentNullException.ThrowIfNull(runEvent);
        return JsonText.Obj(
            ("time", InstanceView.Time(runEvent.Time)),
            ("kind", runEvent.Kind),
            ("name", string.IsNullOrEmpty(runEvent.Name) ? null : runEvent.Name),
            ("taskId", runEvent.TaskId),
            ("durationMs", runEvent.DurationMs > 0 ? runEvent.DurationMs : null),
            ("detail", string.IsNullOrEmpty(runEvent.Detail) ? null : runEvent.Detail),
            ("compensation", runEvent.Kind.StartsWith("compensation_", StringComparison.Ordinal)));
    }
}
