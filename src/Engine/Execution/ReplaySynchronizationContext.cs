namespace KataWorkflows.Engine.Execution;

/// <summary>
/// Runs orchestration continuations on the executor's own thread, in the order they were posted, only when the
/// executor drains them after each history event. This is what makes replay deterministic: no continuation runs
/// on the thread pool or out of order.
/// </summary>
internal sealed class ReplaySynchronizationContext : SynchronizationContext
{
    private readonly Queue<(SendOrPostCallback Callback, object? State)> _queue = new();

    public override void Post(SendOrPostCallback d, object? state) => _queue.Enqueue((d, state));

    public override void Send(SendOrPostCallback d, object? state) =>
        throw new NotSupportedException("Orchestration code cannot block on a synchronous send.");

    public override SynchronizationContext CreateCopy() => this;

    /// <summary>Runs posted continuations until none is left; continuations may post more.</summary>
    public void Drain()
    {
        while (_queue.TryDequeue(out var item))
        {
            item.Callback(item.State);
        }
    }
}
