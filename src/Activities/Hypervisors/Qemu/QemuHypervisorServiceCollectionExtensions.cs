using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>Registers the QEMU hypervisor driver.</summary>
public static class QemuHypervisorServiceCollectionExtensions
{
    /// <summary>
    /// Registers the QEMU driver under HypervisorType <c>qemu</c>, with its options (section
    /// <see cref="QemuHypervisorOptions.SectionName"/>, validated at start). Call it after
    /// <see cref="SandboxDriversServiceCollectionExtensions.AddSandboxDrivers"/>, together with the Kata agent driver
    /// (<c>AddKataAgent</c>), whose shared directory it exports to the guest.
    /// </summary>
    public static IServiceCollection AddQemuHypervisor(this IServiceCollection services, Action<QemuHypervisorOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<QemuHypervisorOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<QemuHypervisorOptions>, QemuHypervisorOptionsValidator>());
        return services.AddHypervisorDriver<QemuHypervisor>(QemuHypervisor.TypeName);
    }
}
