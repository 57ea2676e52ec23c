using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Serialization;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using SdkRegistry = Microsoft.DurableTask.DurableTaskRegistry;

namespace KataWorkflows.Engine;

/// <summary>Configures the engine in a service collection: the store backend, the SDK worker's tasks and its options.</summary>
public sealed class DurableTaskEngineBuilder
{
    private readonly List<Action<SdkRegistry>> _tasks = [];

    internal DurableTaskEngineBuilder(IServiceCollection services)
    {
        Services = services;
    }

    /// <summary>The service collection.</summary>
    public IServiceCollection Services { get; }

    internal IReadOnlyList<Action<SdkRegistry>> Tasks => _tasks;

    /// <summary>Uses a backend created from the service provider.</summary>
    public DurableTaskEngineBuilder UseBackend(Func<IServiceProvider, IStoreBackend> factory)
    {
        Services.RemoveAll<IStoreBackend>();
        Services.AddSingleton(factory);
        return this;
    }

    /// <summary>Keeps everything in memory (tests and tools).</summary>
    public DurableTaskEngineBuilder UseInMemory() => UseBackend(_ => new InMemoryStoreBackend());

    /// <summary>Registers orchestrators, activities and entities with the SDK worker (<c>AddTasks</c>).</summary>
    public DurableTaskEngineBuilder AddTasks(Action<SdkRegistry> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _tasks.Add(configure);
        return this;
    }

    /// <summary>Configures the worker.</summary>
    public DurableTaskEngineBuilder ConfigureWorker(Action<StoreWorkerOptions> configure)
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
    /// <c>Microsoft.DurableTask.Client.DurableTaskClient</c>) and the SDK's worker over the store (<c>AddDurableTaskWorker(b =>
    /// b.AddTasks(...).UseStore())</c>, a hosted service). The backend defaults to in-memory; a storage assembly's
    /// <c>Use...</c> extension selects another.
    /// </summary>
    public static IServiceCollection AddDurableTaskEngine(this IServiceCollection services, Action<DurableTaskEngineBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var builder = new DurableTaskEngineBuilder(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(DataConverter.Default);
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
        services.AddDurableTaskWorker(worker =>
        {
            worker.AddTasks(registry =>
            {
                foreach (var tasks in builder.Tasks)
                {
                    tasks(registry);
                }
            });
            worker.UseStore();
        });
        return services;
    }
}
