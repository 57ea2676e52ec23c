using KataWorkflows.Engine.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace KataWorkflows.Host.Services;

/// <summary>Healthy while the store answers a read.</summary>
internal sealed class StoreHealthCheck : IHealthCheck
{
    private readonly IOrchestrationStore _store;

    /// <summary>Creates the check.</summary>
    public StoreHealthCheck(IOrchestrationStore store) => _store = store;

    /// <inheritdoc />
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            _ = await _store.GetInstanceAsync("kwf-health-probe", includePayloads: false, cancellationToken);
            return HealthCheckResult.Healthy($"Store {_store.Description} answers");
        }
#pragma warning disable CA1031 // Any failure of the store is the unhealthy answer, not an error of the check.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return HealthCheckResult.Unhealthy($"Store {_store.Description} does not answer: {ex.Message}", ex);
        }
    }
}
