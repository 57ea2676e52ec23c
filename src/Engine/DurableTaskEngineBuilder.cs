using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Serialization;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.Engine;

/// <summary>Configures the engine in a service collection: the store backend, the registry and the worker.</summary>
public sealed class DurableTaskEngineBuilder
{
    internal DurableTaskEngineBuilder(IServiceCollection services, DurableTaskRegistry registry)
    {
        Services = services;
        Registry = registry;
    }

    /// <summary>The service collection.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The orchestrators, activities and entities the worker runs.</summary>
    public DurableTaskRegistry Registry { get; }

    /// <summary>Uses a backend created from the service provider.</summary>
    public DurableTaskEngineBuilder UseBackend(Func<IServiceProvider, IStoreBackend> factory)
    {
        Services.RemoveAll<IStoreBackend>();
        Services.AddSingleton(factory);
        return this;
    }

    /// <summary>Keeps everything in memory (tests and tools).</summary>
    public DurableTaskEngineBuilder UseInMemory() => UseBackend(_ => new InMemoryStoreBackend());

    /// <summary>Configures the worker.</summary>
    public DurableTaskEngineBuilder ConfigureWorker(Action<DurableTaskWorkerOptions> configure)
    {
        Services.Configure(configure);
        return this;
    }
}

/// <summary>Registers the engine.</summary>
public static class DurableTaskEngineServiceCollectionExtensions
{
    /// <summary>
    /// Adds the store, the Durable Task SDK client over it (<see cref="StoreDurableTaskClient"/>, resolved as
    /// <c>Microsoft.DurableTask.Client.DurableTaskClient</c>) and the worker (a hosted service). The backend defaults to in-memory; a
    /// storage assembly's <c>Use...</c> extension selects another.
    /// </summary>
    public static IServiceCollection AddDurableTaskEngine(this IServiceCollection services, Action<DurableTaskEngineBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var registry = new DurableTaskRegistry();
        var builder = new DurableTaskEngineBuilder(services, registry);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(DataConverter.Default);
        services.AddSingleton(registry);
        services.AddOptions<DurableTaskWorkerOptions>();
        builder.UseInMemory();
        configure(builder);
        services.AddSingleton<IOrchestrationStore>(sp => new OrchestrationStore(
            sp.GetRequiredService<IStoreBackend>(), sp.GetRequiredService<TimeProvider>(), sp.GetService<ILogger<OrchestrationStore>>()));
        services.TryAddSingleton<Microsoft.DurableTask.DataConverter>(sp =>
            sp.GetRequiredService<DataConverter>() is var json && ReferenceEquals(json, DataConverter.Default)
                ? SdkDataConverter.Default
                : new Microsoft.DurableTask.Converters.JsonDataConverter(json.Options));
        services.AddDurableTaskClient(client =>
        {
            client.UseBuildTarget<StoreDurableTaskClient>();
            client.Services.AddOptions<Microsoft.DurableTask.Client.DurableTaskClientOptions>(client.Name)
                .Configure<Microsoft.DurableTask.DataConverter>((o, converter) =>
                {
                    o.DataConverter = converter;
                    o.EnableEntitySupport = true;
                });
        });
        services.AddHostedService<DurableTaskWorker>();
        return services;
    }
}
