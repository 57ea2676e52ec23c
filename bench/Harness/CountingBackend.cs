using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Bench.Harness;

/// <summary>Passes everything to a backend and counts the batches committed through it: the work a run costs the store.</summary>
internal sealed class CountingBackend(IStoreBackend inner) : IStoreBackend
{
    private long _commits;

    /// <summary>Batches committed so far (each is one transaction's worth of work, whatever group it shared).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    public string Description => inner.Description;

    public Task<RecoveredState> OpenAsync(CancellationToken cancellationToken) => inner.OpenAsync(cancellationToken);

    public async Task CommitAsync(StoreBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        await inner.CommitAsync(batch, cancellationToken).ConfigureAwait(false);
        if (!batch.IsEmpty)
        {
            Interlocked.Increment(ref _commits);
        }
    }

    public Task<OrchestrationMetadata?> ReadInstanceAsync(string instanceId, bool includePayloads, CancellationToken cancellationToken) =>
        inner.ReadInstanceAsync(instanceId, includePayloads, cancellationToken);

    public Task<IReadOnlyList<HistoryEvent>> ReadHistoryAsync(string instanceId, string? executionId, CancellationToken cancellationToken) =>
        inner.ReadHistoryAsync(instanceId, executionId, cancellationToken);

    public Task<InstancePage> QueryInstancesAsync(OrchestrationQuery query, CancellationToken cancellationToken) =>
        inner.QueryInstancesAsync(query, cancellationToken);

    public Task<IReadOnlyList<string>> FindPurgeableAsync(PurgeFilter filter, int limit, CancellationToken cancellationToken) =>
        inner.FindPurgeableAsync(filter, limit, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
