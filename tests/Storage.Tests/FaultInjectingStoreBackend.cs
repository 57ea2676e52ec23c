using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Storage.Tests;

/// <summary>
/// Wraps any backend so a test can fail or hold its commits; reads pass straight through. Once disposed it refuses
/// every commit, as a process that is gone writes nothing: background work of a store that was "restarted" cannot
/// land behind the back of the next one.
/// </summary>
public sealed class FaultInjectingStoreBackend : IStoreBackend
{
    private readonly IStoreBackend _inner;
    private readonly CommitFaults _faults;
    private volatile bool _disposed;

    /// <summary>Wraps <paramref name="inner"/>; <paramref name="faults"/> says what to do to each commit.</summary>
    public FaultInjectingStoreBackend(IStoreBackend inner, CommitFaults faults)
    {
        _inner = inner;
        _faults = faults;
        faults.IsAttached = true;
    }

    /// <inheritdoc />
    public string Description => _inner.Description;

    /// <inheritdoc />
    public Task<RecoveredState> OpenAsync(CancellationToken cancellationToken) => _inner.OpenAsync(cancellationToken);

    /// <inheritdoc />
    public async Task CommitAsync(StoreBatch batch, CancellationToken cancellationToken)
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

        await _inner.CommitAsync(batch, cancellationToken);
    }

    /// <inheritdoc />
    public Task<OrchestrationMetadata?> ReadInstanceAsync(string instanceId, bool includePayloads, CancellationToken cancellationToken) =>
        _inner.ReadInstanceAsync(instanceId, includePayloads, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<HistoryEvent>> ReadHistoryAsync(string instanceId, string? executionId, CancellationToken cancellationToken) =>
        _inner.ReadHistoryAsync(instanceId, executionId, cancellationToken);

    /// <inheritdoc />
    public Task<InstancePage> QueryInstancesAsync(OrchestrationQuery query, CancellationToken cancellationToken) =>
        _inner.QueryInstancesAsync(query, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> FindPurgeableAsync(PurgeFilter filter, int limit, CancellationToken cancellationToken) =>
        _inner.FindPurgeableAsync(filter, limit, cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _disposed = true;
        return _inner.DisposeAsync();
    }
}
