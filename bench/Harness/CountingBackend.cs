using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Bench.Harness;

/// <summary>Passes everything to a backend and counts the batches committed through it: the work a run costs the store.</summary>
internal sealed class CountingBackend(IStoreBackend inner) : DelegatingStoreBackend(inner)
{
    private long _commits;

    /// <summary>Batches committed so far (each is one transaction's worth of work, whatever group it shared).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    public override async Task CommitAsync(StoreBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        await Inner.CommitAsync(batch, cancellationToken).ConfigureAwait(false);
        if (!batch.IsEmpty)
        {
            Interlocked.Increment(ref _commits);
        }
    }
}
