using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Agents.Kata;

/// <summary>Registers the Kata agent driver.</summary>
public static class KataAgentServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Kata agent driver under AgentType <c>kata</c>, with its options (validated at start). Call it
    /// after <see cref="SandboxDriversServiceCollectionExtensions.AddSandboxDrivers"/> on a host whose VMs run the
    /// project's guest (or Kata's agent).
    /// </summary>
    public static IServiceCollection AddKataAgent(this IServiceCollection services, Action<KataAgentOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<KataAgentOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KataAgentOptions>, KataAgentOptionsValidator>());
        return services.AddAgentDriver<KataAgent>(KataAgent.TypeName);
    }
}
