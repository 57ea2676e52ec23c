using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Storage.Tests;

/// <summary>
/// Wraps any backend so a test can fail or hold its commits; reads pass straight through. Once disposed it refuses
/// every commit, as a process that is gone writes nothing: background work of a store that was "restarted" cannot
/// land behind the back of the next one.
/// </summary>
public sealed class FaultInjectingStoreBackend : DelegatingStoreBackend
{
    private readonly CommitFaults _faults;
    private volatile bool _disposed;

    /// <summary>Wraps <paramref name="inner"/>; <paramref name="faults"/> says what to do to each commit.</summary>
    public FaultInjectingStoreBackend(IStoreBackend inner, CommitFaults faults)
        : base(inner)
    {
        _faults = faults;
        faults.IsAttached = true;
    }

    /// <inheritdoc />
    public override async Task CommitAsync(StoreBatch batch, CancellationToken cancellationToken)
    {
        if (_faults.Hold is { } hold)
        {
            await hold(batch);
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_faults.Fail?.Invoke(batch) is { } failure)
        {
            throw failure;
        }

        await Inner.CommitAsync(batch, cancellationToken);
    }

    /// <inheritdoc />
    public override ValueTask DisposeAsync()
    {
        _disposed = true;
        return base.DisposeAsync();
    }
}
