using System.Threading.Channels;

namespace KataWorkflows.Engine.Tests.Harness;

/// <summary>
/// Holds activities until the test releases them, and tells the test each time one arrives. Waiting activities
/// honour their cancellation token, so a worker shutdown interrupts them (they run again after a restart).
/// </summary>
public sealed class Gate
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<int> _arrivals = Channel.CreateUnbounded<int>();
    private int _entries;

    /// <summary>How many times an activity reached the gate.</summary>
    public int Entries => Volatile.Read(ref _entries);

    /// <summary>Called by the activity: records the arrival and waits for the release.</summary>
    public async Task PassAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _entries);
        _arrivals.Writer.TryWrite(0);
        await _release.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Waits for the next arrival of an activity at the gate.</summary>
    public async Task WaitForArrivalAsync(CancellationToken cancellationToken) => await _arrivals.Reader.ReadAsync(cancellationToken);

    /// <summary>Lets every waiting and future activity through.</summary>
    public void Release() => _release.TrySetResult();
}
