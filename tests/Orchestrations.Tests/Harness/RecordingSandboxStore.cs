using KataWorkflows.Activities.Store;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Orchestrations.Tests.Harness;

/// <summary>The file store, registered in its place, noting every write and removal in <see cref="DriverCalls"/>.</summary>
public sealed class RecordingSandboxStore(SandboxFileStore inner, DriverCalls calls) : ISandboxStore
{
    /// <inheritdoc />
    public Task WriteAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        calls.Add($"store.write {record.Id} {StateTransitions.Name(record.State)}");
        return inner.WriteAsync(record, cancellationToken);
    }

    /// <inheritdoc />
    public Task<SandboxPersistState?> ReadAsync(string sandboxId, CancellationToken cancellationToken) => inner.ReadAsync(sandboxId, cancellationToken);

    /// <inheritdoc />
    public Task<ContainerPersistState?> ReadContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken) =>
        inner.ReadContainerAsync(sandboxId, containerId, cancellationToken);

    /// <inheritdoc />
    public Task RemoveAsync(string sandboxId, CancellationToken cancellationToken)
    {
        calls.Add($"store.remove {sandboxId}");
        return inner.RemoveAsync(sandboxId, cancellationToken);
    }

    /// <inheritdoc />
    public bool Exists(string sandboxId) => inner.Exists(sandboxId);
}
