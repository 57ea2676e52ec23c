namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>
/// A wait for one QMP event, registered before the command that causes it is sent so the event cannot be missed.
/// It completes with the first matching event, fails when the connection ends, and stops watching when disposed.
/// </summary>
public sealed class QmpEventWatch : IDisposable
{
    private readonly Action<QmpEventWatch> _unregister;
    private readonly TaskCompletionSource<QmpEvent> _event = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal QmpEventWatch(string name, Func<QmpEvent, bool>? match, Action<QmpEventWatch> unregister)
    {
        Name = name;
        Match = match;
        _unregister = unregister;
    }

    /// <summary>The event name watched for.</summary>
    public string Name { get; }

    /// <summary>Completes with the event.</summary>
    public Task<QmpEvent> Event => _event.Task;

    internal Func<QmpEvent, bool>? Match { get; }

    /// <summary>Waits for the event.</summary>
    /// <exception cref="TimeoutException">It did not come within <paramref name="timeout"/>; the message names it and <paramref name="what"/>.</exception>
    /// <exception cref="QmpProtocolException">The connection ended first (QEMU exited).</exception>
    public async Task<QmpEvent> WaitAsync(TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await _event.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"QMP event {Name} ({what}) did not come within {timeout}.");
        }
    }

    /// <inheritdoc />
    public void Dispose() => _unregister(this);

    internal bool TryComplete(QmpEvent qmpEvent) => _event.TrySetResult(qmpEvent);

    internal void Fail(Exception exception) => _event.TrySetException(exception);
}
