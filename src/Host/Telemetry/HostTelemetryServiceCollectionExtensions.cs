using KataWorkflows.Host.Configuration;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace KataWorkflows.Host.Telemetry;

/// <summary>Registers OpenTelemetry tracing and metrics for the Kata Workflows sources and meters.</summary>
internal static class HostTelemetryServiceCollectionExtensions
{
    /// <summary>Adds tracing and metrics; spans and metrics are exported over OTLP only when an endpoint is configured.</summary>
    public static IServiceCollection AddHostTelemetry(this IServiceCollection services, TelemetrySection telemetry)
    {
        ArgumentNullException.ThrowIfNull(telemetry);
        var endpoint = string.IsNullOrEmpty(telemetry.OtlpEndpoint) ? null : new Uri(telemetry.OtlpEndpoint);
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(telemetry.ServiceName))
            .WithTracing(tracing =>
            {
                tracing.AddSource([.. HostTelemetry.AllNames]);
                if (endpoint is not null)
                {
                    tracing.AddOtlpExporter(o => o.Endpoint = endpoint);
                }
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter([.. HostTelemetry.AllNames]);
                if (endpoint is not null)
                {
                    metrics.AddOtlpExporter(o => o.Endpoint = endpoint);
                }
            });
        return services;
    }
}
