using Microsoft.DurableTask.Protobuf;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Orchestrations.Client;

/// <summary>What a history event says about a sandbox run's steps.</summary>
public enum RunStepKind
{
    /// <summary>An activity was scheduled.</summary>
    Started,

    /// <summary>An activity returned.</summary>
    Completed,

    /// <summary>An activity threw.</summary>
    Failed,
}

/// <summary>One step event of a sandbox run.</summary>
/// <param name="Kind">Started, completed or failed.</param>
/// <param name="Name">The activity.</param>
/// <param name="TaskId">The id of its <c>TaskScheduled</c> event.</param>
/// <param name="Compensation">True for a step that undoes the call's earlier steps.</param>
public sealed record RunStep(RunStepKind Kind, string Name, int TaskId, bool Compensation);

/// <summary>
/// Reads a sandbox run's history in order and tells which steps are the call's own and which undo it: once a step has
/// failed for good, or its step timeout fired while it ran, every later step other than a retry of the failed one is a
/// compensation. The host's live step stream and <c>kwf wf history</c> both label steps with it, so they agree.
/// </summary>
public sealed class RunStepReader
{
    /// <summary>Stands for a step that timed out: no activity has this name, so no later step counts as its retry.</summary>
    private const string TimedOut = "\0timeout";

    private readonly Dictionary<int, (string Name, bool Compensation)> _scheduled = [];
    private readonly HashSet<int> _open = [];
    private readonly Dictionary<int, int> _stepTimers = [];
    private int? _lastScheduled;
    private string? _failedStep;
    private bool _compensating;

    /// <summary>The step event <paramref name="e"/> is, or null for any other event (which may still change what follows).</summary>
    public RunStep? Read(HistoryEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        switch (e.EventTypeCase)
        {
            case Kind.TaskScheduled:
                var name = e.TaskScheduled.Name;

                // A step scheduled again after its failure is a retry; any other step after a failure is an undo.
                _compensating |= _failedStep is not null && name != _failedStep;
                _scheduled[e.EventId] = (name, _compensating);
                _open.Add(e.EventId);
                _lastScheduled = e.EventId;
                return new RunStep(RunStepKind.Started, name, e.EventId, _compensating);
            case Kind.TaskCompleted when _scheduled.TryGetValue(e.TaskCompleted.TaskScheduledId, out var done):
                _open.Remove(e.TaskCompleted.TaskScheduledId);
                return new RunStep(RunStepKind.Completed, done.Name, e.TaskCompleted.TaskScheduledId, done.Compensation);
            case Kind.TaskFailed when _scheduled.TryGetValue(e.TaskFailed.TaskScheduledId, out var failed):
                _open.Remove(e.TaskFailed.TaskScheduledId);
                if (!failed.Compensation)
                {
                    _failedStep ??= failed.Name;
                }

                return new RunStep(RunStepKind.Failed, failed.Name, e.TaskFailed.TaskScheduledId, failed.Compensation);
            case Kind.TimerCreated when _lastScheduled is { } step && _open.Contains(step):
                // A step timeout is the timer created with its step, while the step runs (a retry's wait comes after a failure).
                _stepTimers[e.EventId] = step;
                return null;
            case Kind.TimerFired when _stepTimers.TryGetValue(e.TimerFired.TimerId, out var bounded) && _open.Contains(bounded):
                // The timeout fired before its step ended: the call gives up on it and undoes what it did, so every
                // later step is an undo. A timeout firing after its step ended was cancelled by the code: nothing changes.
                _failedStep ??= TimedOut;
                return null;
            default:
                return null;
        }
    }
}
