using KataWorkflows.Engine.Serialization;
using Microsoft.DurableTask.Converters;
using Microsoft.DurableTask.Worker;
using SdkWorkerOptions = Microsoft.DurableTask.Worker.DurableTaskWorkerOptions;
using Microsoft.Extensions.DependencyInjection;

namespace KataWorkflows.Engine.Worker;

/// <summary>Makes the store the SDK worker's backend.</summary>
public static class StoreWorkerBuilderExtensions
{
    /// <summary>
    /// Runs the worker's tasks from the store, in process: <see cref="StoreDurableTaskWorker"/> as the builder's build
    /// target, with entity support on and the engine's JSON settings (camelCase, enums as strings) as the data
    /// converter, so payloads read and write as the store's client and the stored histories have them. Needs an
    /// <see cref="Storage.IOrchestrationStore"/> in the services (<c>AddDurableTaskEngine</c> registers one).
    /// </summary>
    public static IDurableTaskWorkerBuilder UseStore(this IDurableTaskWorkerBuilder builder, Action<StoreWorkerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Configure<SdkWorkerOptions>(builder.Name, o =>
        {
            o.EnableEntitySupport = true;
            o.DataConverter = new JsonDataConverter(DataConverter.Default.Options);
        });
        if (configure is not null)
        {
            builder.Services.Configure(builder.Name, configure);
        }

        return builder.UseBuildTarget<StoreDurableTaskWorker, StoreWorkerOptions>();
    }
}
