using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Storage.Tests;

/// <summary>The conformance suite over <see cref="InMemoryStoreBackend"/>: a restart reuses the backend object.</summary>
public sealed class InMemoryOrchestrationStoreConformance : OrchestrationStoreConformance
{
    /// <inheritdoc />
    protected override Task<IOrchestrationStore> CreateStoreAsync(StoreLocation location)
    {
        ArgumentNullException.ThrowIfNull(location);
        location.State ??= new InMemoryStoreBackend();
        return Task.FromResult(CreateStoreOver((InMemoryStoreBackend)location.State, location));
    }

    /// <inheritdoc />
    protected override Task<RecoveredState> ReadDurableStateAsync(StoreLocation location)
    {
        ArgumentNullException.ThrowIfNull(location);
        return ((InMemoryStoreBackend)location.State!).OpenAsync(Ct);
    }
}
