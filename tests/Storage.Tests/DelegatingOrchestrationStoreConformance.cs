using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Storage.Tests;

/// <summary>
/// The conformance suite over a <see cref="PassThroughOrchestrationStore"/> wrapping the in-memory store: a store
/// that only forwards must keep every guarantee of the store it wraps.
/// </summary>
public sealed class DelegatingOrchestrationStoreConformance : OrchestrationStoreConformance
{
    /// <inheritdoc />
    protected override Task<IOrchestrationStore> CreateStoreAsync(StoreLocation location)
    {
        ArgumentNullException.ThrowIfNull(location);
        location.State ??= new InMemoryStoreBackend();
        IOrchestrationStore store = new PassThroughOrchestrationStore(CreateStoreOver((InMemoryStoreBackend)location.State, location));
        return Task.FromResult(store);
    }

    /// <inheritdoc />
    protected override Task<RecoveredState> ReadDurableStateAsync(StoreLocation location)
    {
        ArgumentNullException.ThrowIfNull(location);
        return ((InMemoryStoreBackend)location.State!).OpenAsync(Ct);
    }
}
