using KataWorkflows.Activities.Agents;
using KataWorkflows.Activities.Agents.Noop;
using KataWorkflows.Activities.Drivers;
using KataWorkflows.Activities.Faults;
using KataWorkflows.Activities.Hypervisors;
using KataWorkflows.Activities.Hypervisors.Mock;
using KataWorkflows.Activities.Networks;
using KataWorkflows.Activities.Networks.None;
using KataWorkflows.Activities.Store;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities;

/// <summary>Registers the sandbox drivers, the host store and fault injection with dependency injection.</summary>
public static class SandboxDriversServiceCollectionExtensions
{
    /// <summary>
    /// Registers what the sandbox activities need: the driver registry with the drivers this assembly has (hypervisor
    /// <c>mock</c>, agent <c>noop</c>, network <c>none</c>), the host file store, the fault injector, and their
    /// options with validators that run at start (the mock drivers' state directory among them). Real drivers are added with
    /// <see cref="AddHypervisorDriver{THypervisor}"/>, <see cref="AddAgentDriver{TAgent}"/> and
    /// <see cref="AddNetworkDriver{TNetwork}"/>, without changing the orchestrations.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="store">Configures the host store (its run root).</param>
    /// <param name="faults">Configures fault injection (none by default).</param>
    /// <param name="mockDrivers">Configures where the mock hypervisor and the noop agent keep their state (in memory by default).</param>
    public static IServiceCollection AddSandboxDrivers(
        this IServiceCollection services,
        Action<HostStoreOptions>? store = null,
        Action<FaultInjectionOptions>? faults = null,
        Action<MockDriverOptions>? mockDrivers = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var storeOptions = services.AddOptions<HostStoreOptions>().ValidateOnStart();
        if (store is not null)
        {
            storeOptions.Configure(store);
        }

        var faultOptions = services.AddOptions<FaultInjectionOptions>().ValidateOnStart();
        if (faults is not null)
        {
            faultOptions.Configure(faults);
        }

        var mockOptions = services.AddOptions<MockDriverOptions>().ValidateOnStart();
        if (mockDrivers is not null)
        {
            mockOptions.Configure(mockDrivers);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<HostStoreOptions>, HostStoreOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MockDriverOptions>, MockDriverOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FaultInjectionOptions>, FaultInjectionOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IDriverResolver, DriverRegistry>();
        services.TryAddSingleton<SandboxFileStore>();
        services.TryAddSingleton<ISandboxStore>(sp => sp.GetRequiredService<SandboxFileStore>());
        services.TryAddSingleton<FaultInjector>();
        services.TryAddSingleton<SandboxActivityServices>();
        services.AddHypervisorDriver<MockHypervisor>(MockHypervisor.TypeName);
        services.AddAgentDriver<NoopAgent>(NoopAgent.TypeName);
        services.AddNetworkDriver<NoneNetwork>(NoneNetwork.ModelName);
        return services;
    }

    /// <summary>Registers a hypervisor driver (a singleton) under a <c>HypervisorType</c>; a later registration of the name wins.</summary>
    public static IServiceCollection AddHypervisorDriver<THypervisor>(this IServiceCollection services, string name)
        where THypervisor : class, IHypervisor => AddDriver<THypervisor>(services, DriverKind.Hypervisor, name);

    /// <summary>Registers an agent driver (a singleton) under an <c>AgentType</c>; a later registration of the name wins.</summary>
    public static IServiceCollection AddAgentDriver<TAgent>(this IServiceCollection services, string name)
        where TAgent : class, IAgent => AddDriver<TAgent>(services, DriverKind.Agent, name);

    /// <summary>Registers a network driver (a singleton) under an <c>InterworkingModel</c>; a later registration of the name wins.</summary>
    public static IServiceCollection AddNetworkDriver<TNetwork>(this IServiceCollection services, string name)
        where TNetwork : class, INetworkDriver => AddDriver<TNetwork>(services, DriverKind.Network, name);

    private static IServiceCollection AddDriver<TDriver>(IServiceCollection services, DriverKind kind, string name)
        where TDriver : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        services.TryAddSingleton<TDriver>();
        services.AddSingleton(new DriverRegistration(kind, name, sp => sp.GetRequiredService<TDriver>()));
        return services;
    }
}
