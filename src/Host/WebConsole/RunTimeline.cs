using System.Globalization;
using KataWorkflows.Orchestrations.Client;
using Microsoft.DurableTask.Protobuf;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Host.WebConsole;

/// <summary>What a timeline bar stands for.</summary>
internal enum BarKind
{
    /// <summary>One attempt of an activity, from its TaskScheduled to its result.</summary>
    Activity,

    /// <summary>A durable timer, from its creation until it fired (or the run stopped waiting for it).</summary>
    Timer,

    /// <summary>A sub-orchestration, from its creation to its result.</summary>
    SubOrchestration,

    /// <summary>An entity operation called by the run, from the call to its answer.</summary>
    EntityCall,

    /// <summary>A critical section's lock, from its grant until the run sent the unlocks.</summary>
    Lock,
}

/// <summary>One bar of a run's timeline.</summary>
/// <param name="Id">The bar's number, in the order the bars started.</param>
/// <param name="Kind">What it stands for.</param>
/// <param name="Name">The activity, timer, orchestration, operation or lock set.</param>
/// <param name="Start">When it began.</param>
/// <param name="End">When it ended; null while it runs.</param>
/// <param name="Status"><c>completed</c>, <c>failed</c>, <c>timedout</c>, <c>running</c>, <c>fired</c>, <c>cancelled</c>, <c>waiting</c>, <c>held</c> or <c>released</c>.</param>
/// <param name="Compensation">True for a step that undoes the call's earlier steps.</param>
/// <param name="Attempt">1 for a first attempt, 2 and up for its retries.</param>
/// <param name="Culprit">True for the step whose failure (or timeout) failed the run.</param>
/// <param name="Detail">A line about it (a failure, a fire time, the lock's wait).</param>
/// <param name="StartEvent">The index of the history event that began it.</param>
/// <param name="EndEvent">The index of the history event that ended it, if any.</param>
/// <param name="Target">The child instance (sub-orchestration) or entity it is about.</param>
internal sealed record TimelineBar(
    int Id,
    BarKind Kind,
    string Name,
    DateTime Start,
    DateTime? End,
    string Status,
    bool Compensation,
    int Attempt,
    bool Culprit,
    string? Detail,
    int StartEvent,
    int? EndEvent,
    string? Target);

/// <summary>A run's timeline: its bars, and the time span the axis covers.</summary>
/// <param name="Start">When the run started (its first event).</param>
/// <param name="End">When it ended; null while it runs.</param>
/// <param name="Bars">The bars, in the order they started.</param>
internal sealed record RunTimeline(DateTime? Start, DateTime? End, IReadOnlyList<TimelineBar> Bars)
{
    /// <summary>
    /// Reads a history into bars: each activity attempt, timer, sub-orchestration, entity call and held lock. Steps are
    /// labelled forward or compensation by <see cref="RunStepReader"/>, the same reader that labels <c>kwf</c>'s live
    /// steps and its history, so the three agree; a step scheduled again after its failure is a retry.
    /// </summary>
    public static RunTimeline Read(IReadOnlyList<HistoryEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var steps = new RunStepReader();
        var bars = new List<Bar>();
        var activities = new Dictionary<int, Bar>();
        var timers = new Dictionary<int, Bar>();
        var subOrchestrations = new Dictionary<int, Bar>();
        var calls = new Dictionary<string, Bar>(StringComparer.Ordinal);
        var locks = new Dictionary<string, Bar>(StringComparer.Ordinal);
        var lastAttempt = new Dictionary<(string, bool), Bar>();
        var stepTimers = new Dictionary<int, Bar>();
        Bar? lastActivity = null;
        DateTime? start = null;
        DateTime? end = null;
        var runFailed = false;
        var time = DateTime.MinValue;
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (e.Timestamp is { } stamp)
            {
                time = stamp.ToDateTime();
            }

            start ??= time;
            var step = steps.Read(e);
            switch (e.EventTypeCase)
            {
                case Kind.TaskScheduled:
                {
                    var compensation = step?.Compensation ?? false;
                    var key = (e.TaskScheduled.Name, compensation);
                    var attempt = lastAttempt.TryGetValue(key, out var previous) && previous.Status is "failed" ? previous.Attempt + 1 : 1;
                    var bar = Open(BarKind.Activity, e.TaskScheduled.Name, i, time, "running");
                    bar.Compensation = compensation;
                    bar.Attempt = attempt;
                    activities[e.EventId] = bar;
                    lastAttempt[key] = bar;
                    lastActivity = bar;
                    break;
                }

                case Kind.TaskCompleted when activities.TryGetValue(e.TaskCompleted.TaskScheduledId, out var done):
                    Close(done, i, time, done.Status == "timedout" ? "timedout" : "completed");
                    break;
                case Kind.TaskFailed when activities.TryGetValue(e.TaskFailed.TaskScheduledId, out var failed):
                    Close(failed, i, time, "failed");
                    failed.Detail = Failure(e.TaskFailed.FailureDetails);
                    break;
                case Kind.TimerCreated:
                {
                    string name;
                    if (lastActivity is { Status: "running" } running)
                    {
                        name = "timeout of " + running.Name;
                        stepTimers[e.EventId] = running;
                    }
                    else if (lastActivity is { Status: "failed" } retried)
                    {
                        name = "retry delay of " + retried.Name;
                    }
                    else
                    {
                        name = "timer";
                    }

                    var bar = Open(BarKind.Timer, name, i, time, "waiting");
                    bar.FireAt = e.TimerCreated.FireAt?.ToDateTime();
                    bar.Detail = bar.FireAt is { } fireAt ? "fires at " + Iso(fireAt) : null;
                    timers[e.EventId] = bar;
                    break;
                }

                case Kind.TimerFired when timers.TryGetValue(e.TimerFired.TimerId, out var timer):
                    Close(timer, i, time, "fired");
                    if (stepTimers.TryGetValue(e.TimerFired.TimerId, out var bounded) && bounded.Status == "running")
                    {
                        // The step's timeout fired while it ran: the call gave up on it.
                        bounded.Status = "timedout";
                        bounded.Detail = "timed out";
                    }

                    break;
                case Kind.SubOrchestrationInstanceCreated:
                {
                    var bar = Open(BarKind.SubOrchestration, e.SubOrchestrationInstanceCreated.Name, i, time, "running");
                    bar.Target = e.SubOrchestrationInstanceCreated.InstanceId;
                    subOrchestrations[e.EventId] = bar;
                    break;
                }

                case Kind.SubOrchestrationInstanceCompleted when subOrchestrations.TryGetValue(e.SubOrchestrationInstanceCompleted.TaskScheduledId, out var child):
                    Close(child, i, time, "completed");
                    break;
                case Kind.SubOrchestrationInstanceFailed when subOrchestrations.TryGetValue(e.SubOrchestrationInstanceFailed.TaskScheduledId, out var child):
                    Close(child, i, time, "failed");
                    child.Detail = Failure(e.SubOrchestrationInstanceFailed.FailureDetails);
                    break;
                case Kind.EntityOperationCalled:
                {
                    var called = e.EntityOperationCalled;
                    var bar = Open(BarKind.EntityCall, $"{called.Operation} {called.TargetInstanceId}", i, time, "running");
                    bar.Target = called.TargetInstanceId;
                    calls[called.RequestId] = bar;
                    break;
                }

                case Kind.EntityOperationCompleted when calls.TryGetValue(e.EntityOperationCompleted.RequestId, out var call):
                    Close(call, i, time, "completed");
                    break;
                case Kind.EntityOperationFailed when calls.TryGetValue(e.EntityOperationFailed.RequestId, out var call):
                    Close(call, i, time, "failed");
                    call.Detail = Failure(e.EntityOperationFailed.FailureDetails);
                    break;
                case Kind.EntityLockRequested:
                {
                    var requested = e.EntityLockRequested;
                    var bar = Open(BarKind.Lock, "lock " + string.Join(", ", requested.LockSet), i, time, "waiting");
                    bar.Target = requested.LockSet.Count == 1 ? requested.LockSet[0] : null;
                    bar.RequestedAt = time;
                    locks[requested.CriticalSectionId] = bar;
                    break;
                }

                case Kind.EntityLockGranted when locks.TryGetValue(e.EntityLockGranted.CriticalSectionId, out var granted):
                    // The bar is the lock held: it starts at the grant; the wait before it is its detail.
                    granted.Start = time;
                    granted.Status = "held";
                    var waited = time - (granted.RequestedAt ?? time);
                    granted.Detail = string.Create(CultureInfo.InvariantCulture, $"waited {waited.TotalMilliseconds:0} ms for the lock");
                    break;
                case Kind.EntityUnlockSent when locks.TryGetValue(e.EntityUnlockSent.CriticalSectionId, out var released):
                    // One unlock per entity of the set: the lock is held until the last one was sent.
                    released.End = time;
                    released.EndEvent = i;
                    released.Status = "released";
                    break;
                case Kind.ExecutionCompleted:
                    end = time;
                    runFailed = e.ExecutionCompleted.OrchestrationStatus == OrchestrationStatus.Failed;
                    break;
                case Kind.ExecutionTerminated:
                    end = time;
                    break;
                default:
                    break;
            }
        }

        foreach (var bar in bars.Where(b => b.End is null && end is not null))
        {
            // The run ended with this still open: it stopped waiting for it then.
            bar.End = bar.Kind == BarKind.Timer && bar.FireAt is { } fireAt && fireAt < end ? fireAt : end;
            bar.Status = bar.Status switch
            {
                "waiting" when bar.Kind == BarKind.Timer => "cancelled",
                "held" => "released",
                "timedout" => "timedout",
                _ => "cancelled",
            };
        }

        // A step timeout that was cancelled ends when its step ended, not at its fire time.
        foreach (var (_, activity) in stepTimers)
        {
            var timer = bars.FirstOrDefault(b => b.Kind == BarKind.Timer && b.Name == "timeout of " + activity.Name && b.Status == "cancelled" && b.Start >= activity.Start);
            if (timer is not null && activity.End is { } stepEnd && stepEnd < timer.End)
            {
                timer.End = stepEnd;
            }
        }

        // The failed step: the last forward attempt that failed or timed out, once the run failed or began undoing.
        var culprit = bars.LastOrDefault(b => b is { Kind: BarKind.Activity, Compensation: false, Status: "failed" or "timedout" });
        if (culprit is not null && (runFailed || bars.Any(b => b.Compensation)))
        {
            culprit.Culprit = true;
        }

        return new RunTimeline(start, end, [.. bars.Select((b, n) => b.ToRecord(n))]);

        Bar Open(BarKind kind, string name, int index, DateTime at, string status)
        {
            var bar = new Bar { Kind = kind, Name = name, StartEvent = index, Start = at, Status = status };
            bars.Add(bar);
            return bar;
        }

        static void Close(Bar bar, int index, DateTime at, string status)
        {
            bar.End = at;
            bar.EndEvent = index;
            bar.Status = status;
        }
    }

    private static string? Failure(TaskFailureDetails? failure) =>
        failure is null ? null : $"{ShortType(failure.ErrorType)}: {failure.ErrorMessage}";

    private static string ShortType(string type)
    {
        var dot = type.LastIndexOf('.');
        return dot < 0 ? type : type[(dot + 1)..];
    }

    private static string Iso(DateTime time) => time.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private sealed class Bar
    {
        public BarKind Kind { get; init; }

        public required string Name { get; init; }

        public DateTime Start { get; set; }

        public DateTime? End { get; set; }

        public DateTime? FireAt { get; set; }

        public DateTime? RequestedAt { get; set; }

        public required string Status { get; set; }

        public bool Compensation { get; set; }

        public int Attempt { get; set; } = 1;

        public bool Culprit { get; set; }

        public string? Detail { get; set; }

        public int StartEvent { get; init; }

        public int? EndEvent { get; set; }

        public string? Target { get; set; }

        public TimelineBar ToRecord(int id) =>
            new(id, Kind, Name, Start, End, Status, Compensation, Attempt, Culprit, Detail, StartEvent, EndEvent, Target);
    }
}
