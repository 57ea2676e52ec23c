namespace KataWorkflows.Engine.Worker;

/// <summary>
/// What the store's worker knows about the activity running on the current flow and the SDK's
/// <c>TaskActivityContext</c> does not carry: the task's sequence number and the token that fires when the worker
/// shuts down (the activity then runs again later, so it should stop).
/// </summary>
/// <remarks>
/// Ambient, because the SDK creates the activity and its context: the worker sets it around the SDK's activity
/// shim, and it flows into the activity's code. Outside an activity run it is empty (no cancellation, no task id).
/// </remarks>
public static class ActivityExecution
{
    private static readonly AsyncLocal<Current?> CurrentRun = new();

    /// <summary>Fires when the worker running the current activity shuts down.</summary>
    public static CancellationToken CancellationToken => CurrentRun.Value?.CancellationToken ?? CancellationToken.None;

    /// <summary>The sequence number of the current activity's task in its orchestration's history, when one runs.</summary>
    public static int? TaskId => CurrentRun.Value?.TaskId;

    /// <summary>
    /// Sets what the activity run on the current flow sees, until the returned scope is disposed (tests and tools that
    /// run an activity outside a worker use it too).
    /// </summary>
    public static IDisposable Enter(int taskId, CancellationToken cancellationToken)
    {
        var previous = CurrentRun.Value;
        CurrentRun.Value = new Current(taskId, cancellationToken);
        return new Scope(previous);
    }

    private sealed record Current(int TaskId, CancellationToken CancellationToken);

    private sealed class Scope(Current? previous) : IDisposable
    {
        public void Dispose() => CurrentRun.Value = previous;
    }
}
