using KataWorkflows.Activities.Agents;
using KataWorkflows.Activities.Hypervisors;
using KataWorkflows.Activities.Networks;

namespace KataWorkflows.Activities.Drivers;

/// <summary>
/// Resolves drivers from the <see cref="DriverRegistration"/>s in dependency injection. Names compare
/// case-insensitively; a name registered twice resolves to the last registration, so a host (or a test) can replace
/// a driver. Kata's known types without a driver on this host get a message that says what is missing.
/// </summary>
public sealed class DriverRegistry : IDriverResolver
{
    private static readonly Dictionary<(DriverKind, string), string> KnownDrivers = new()
    {
        [(DriverKind.Hypervisor, "qemu")] = "QEMU",
        [(DriverKind.Agent, "kata")] = "Kata agent",
        [(DriverKind.Network, "tcfilter")] = "tcfilter network",
        [(DriverKind.Network, "macvtap")] = "macvtap network",
    };

    private readonly IServiceProvider _services;
    private readonly Dictionary<(DriverKind Kind, string Name), DriverRegistration> _registrations;

    /// <summary>Creates the registry over the registrations in dependency injection.</summary>
    public DriverRegistry(IServiceProvider services, IEnumerable<DriverRegistration> registrations)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(registrations);
        _services = services;
        _registrations = [];
        foreach (var registration in registrations)
        {
            _registrations[(registration.Kind, registration.Name.ToLowerInvariant())] = registration;
        }
    }

    /// <summary>The registered driver names of a role, sorted.</summary>
    public IReadOnlyList<string> Names(DriverKind kind) =>
        _registrations.Keys.Where(k => k.Kind == kind).Select(k => k.Name).Order(StringComparer.Ordinal).ToList();

    /// <inheritdoc />
    public IHypervisor GetHypervisor(string hypervisorType) => Resolve<IHypervisor>(DriverKind.Hypervisor, hypervisorType);

    /// <inheritdoc />
    public IAgent GetAgent(string agentType) => Resolve<IAgent>(DriverKind.Agent, agentType);

    /// <inheritdoc />
    public INetworkDriver GetNetwork(string interworkingModel) => Resolve<INetworkDriver>(DriverKind.Network, interworkingModel);

    private T Resolve<T>(DriverKind kind, string name)
        where T : class
    {
        var key = (name ?? string.Empty).ToLowerInvariant();
        if (_registrations.TryGetValue((kind, key), out var registration))
        {
            return registration.Factory(_services) as T
                ?? throw new InvalidOperationException($"The {Describe(kind)} driver registered as '{name}' does not implement {typeof(T).Name}.");
        }

        var reason = KnownDrivers.TryGetValue((kind, key), out var display)
            ? $"no {display} driver is configured"
            : Names(kind) is { Count: > 0 } names
                ? $"no driver is registered under that name (registered: {string.Join(", ", names)})"
                : "no driver of this kind is registered";
        throw new DriverUnavailableException(kind, name ?? string.Empty, $"{Describe(kind)} '{name}' is not available on this host: {reason}");
    }

    private static string Describe(DriverKind kind) => kind switch
    {
        DriverKind.Hypervisor => "hypervisor",
        DriverKind.Agent => "agent",
        _ => "network interworking model",
    };
}
