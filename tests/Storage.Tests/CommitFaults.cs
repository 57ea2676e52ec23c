using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Storage.Tests;

/// <summary>What a <see cref="FaultInjectingStoreBackend"/> does to the batches committed through it.</summary>
public sealed class CommitFaults
{
    /// <summary>Returns the exception to throw instead of committing a batch; null lets the batch through.</summary>
    public Func<StoreBatch, Exception?>? Fail { get; set; }

    /// <summary>Awaited before a batch is committed, so a test can hold one commit while it does something else.</summary>
    public Func<StoreBatch, Task>? Hold { get; set; }

    /// <summary>True once a store over this location commits through a <see cref="FaultInjectingStoreBackend"/>.</summary>
    public bool IsAttached { get; internal set; }
}
