using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Networks.TcFilter;

/// <summary>Registers the tcfilter network driver.</summary>
public static class TcFilterNetworkServiceCollectionExtensions
{
    /// <summary>
    /// Registers the tcfilter network driver under InterworkingModel <c>tcfilter</c>, with its options (validated at
    /// start, each failure naming its key under <see cref="TcFilterNetworkOptions.SectionName"/>). Call it after
    /// <see cref="SandboxDriversServiceCollectionExtensions.AddSandboxDrivers"/> on a host that runs as root with
    /// iproute2 (<c>ip</c>, <c>tc</c>) installed; its leases live under the host store's run root.
    /// </summary>
    public static IServiceCollection AddTcFilterNetwork(this IServiceCollection services, Action<TcFilterNetworkOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<TcFilterNetworkOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TcFilterNetworkOptions>, TcFilterNetworkOptionsValidator>());
        return services.AddNetworkDriver<TcFilterNetwork>(TcFilterNetwork.ModelName);
    }
}
