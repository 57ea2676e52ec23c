namespace KataWorkflows.TestSupport;

/// <summary>
/// Tells waiters that something changed. Take <see cref="Next"/> before reading the state it guards, so a change
/// between the read and the wait is not missed. Safe to use from any thread.
/// </summary>
public sealed class ChangeSignal
{
    private readonly Lock _sync = new();
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A task that completes at the next <see cref="Set"/>.</summary>
    public Task Next()
    {
        lock (_sync)
        {
            return _next.Task;
        }
    }

    /// <summary>Completes every task <see cref="Next"/> has handed out so far.</summary>
    public void Set()
    {
        TaskCompletionSource current;
        lock (_sync)
        {
            current = _next;
            _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        current.TrySetResult();
    }
}
