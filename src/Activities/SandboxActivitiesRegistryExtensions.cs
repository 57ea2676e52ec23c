using KataWorkflows.Activities.Faults;
using KataWorkflows.Activities.Sandboxes;
using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace KataWorkflows.Activities;

/// <summary>Registers the sandbox activities with a worker's registry.</summary>
public static class SandboxActivitiesRegistryExtensions
{
    private static readonly (string Name, Type Type)[] Activities =
    [
        (SandboxActivities.CreateNetwork, typeof(CreateNetworkActivity)),
        (SandboxActivities.RemoveNetwork, typeof(RemoveNetworkActivity)),
        (SandboxActivities.StartVm, typeof(StartVmActivity)),
        (SandboxActivities.StopVm, typeof(StopVmActivity)),
        (SandboxActivities.PauseVm, typeof(PauseVmActivity)),
        (SandboxActivities.ResumeVm, typeof(ResumeVmActivity)),
        (SandboxActivities.GetGuestDetails, typeof(GetGuestDetailsActivity)),
        (SandboxActivities.CreateContainers, typeof(CreateContainersActivity)),
        (SandboxActivities.DeleteContainers, typeof(DeleteContainersActivity)),
        (SandboxActivities.StoreSandbox, typeof(StoreSandboxActivity)),
        (SandboxActivities.RemoveSandboxStore, typeof(RemoveSandboxStoreActivity)),
        (SandboxActivities.StartContainer, typeof(StartContainerActivity)),
        (SandboxActivities.StopContainer, typeof(StopContainerActivity)),
        (SandboxActivities.KillContainer, typeof(KillContainerActivity)),
        (SandboxActivities.ExecProcess, typeof(ExecProcessActivity)),
        (SandboxActivities.UpdateContainer, typeof(UpdateContainerActivity)),
        (SandboxActivities.PauseContainer, typeof(PauseContainerActivity)),
        (SandboxActivities.ResumeContainer, typeof(ResumeContainerActivity)),
        (SandboxActivities.AddInterface, typeof(AddInterfaceActivity)),
        (SandboxActivities.RemoveInterface, typeof(RemoveInterfaceActivity)),
        (SandboxActivities.UpdateRoutes, typeof(UpdateRoutesActivity)),
        (SandboxActivities.AddDevice, typeof(AddDeviceActivity)),
    ];

    private static readonly (string Name, ObjectFactory Factory)[] Factories =
        Activities.Select(a => (a.Name, ActivatorUtilities.CreateFactory(a.Type, []))).ToArray();

    private static readonly HashSet<string> NameSet = new(Activities.Select(a => a.Name), StringComparer.OrdinalIgnoreCase);

    /// <summary>The name of every sandbox activity, in the order of <see cref="SandboxActivities"/>.</summary>
    public static IReadOnlyList<string> ActivityNames { get; } = Activities.Select(a => a.Name).ToList();

    /// <summary>
    /// Registers every activity of <see cref="SandboxActivities"/> under its name, created per run with dependency
    /// injection (it needs <see cref="SandboxDriversServiceCollectionExtensions.AddSandboxDrivers"/>), each wrapped by
    /// the fault injector when fault rules are configured.
    /// </summary>
    public static DurableTaskRegistry AddSandboxActivities(this DurableTaskRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        foreach (var (name, factory) in Factories)
        {
            registry.AddActivity(name, sp => Create(sp, factory));
        }

        return registry;
    }

    /// <summary>Creates the activity registered under a name, as the worker would.</summary>
    internal static ITaskActivity CreateActivity(IServiceProvider services, string name) =>
        Create(services, Factories.First(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase)).Factory);

    private static ITaskActivity Create(IServiceProvider services, ObjectFactory factory)
    {
        var activity = (ITaskActivity)factory(services, []);
        var faults = services.GetService<FaultInjector>();
        return faults is { Enabled: true } ? new FaultInjectingActivity(activity, faults) : activity;
    }

    internal static bool IsActivityName(string? name) => name is not null && NameSet.Contains(name);
}
