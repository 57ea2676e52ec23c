using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Host.Services;

/// <summary>
/// Opens the store before the listeners bind, so the first call, the health check and systemd's READY=1 all see an
/// open store, and a store that cannot be opened fails the start instead of a later call.
/// </summary>
internal sealed class StoreStartup : IHostedService
{
    private readonly IOrchestrationStore _store;

    /// <summary>Creates the service.</summary>
    public StoreStartup(IOrchestrationStore store) => _store = store;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => _store.StartAsync(cancellationToken);

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
