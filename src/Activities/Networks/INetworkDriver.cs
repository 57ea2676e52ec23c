using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Networks;

/// <summary>
/// Connects a sandbox's VM to its network (Kata's <c>Network</c> and endpoint code): the namespace, the endpoints in
/// it and how they reach the VM. Every member must be idempotent: creating again adopts what exists, removing what
/// is gone succeeds, adding an interface that is there returns it.
/// </summary>
public interface INetworkDriver
{
    /// <summary>Creates (or adopts) the sandbox's network namespace and scans its endpoints.</summary>
    Task<NetworkState> CreateAsync(string sandboxId, NetworkConfig config, CancellationToken cancellationToken);

    /// <summary>Detaches the endpoints and removes the namespace if this host created it.</summary>
    Task RemoveAsync(string sandboxId, NetworkState state, CancellationToken cancellationToken);

    /// <summary>Creates an endpoint for a new interface and returns it as created (a MAC address is chosen when none is given).</summary>
    Task<InterfaceRecord> AddInterfaceAsync(string sandboxId, NetworkState? state, InterfaceRecord iface, CancellationToken cancellationToken);

    /// <summary>Removes an interface's endpoint; one that is not there is not an error.</summary>
    Task RemoveInterfaceAsync(string sandboxId, NetworkState? state, InterfaceRecord iface, CancellationToken cancellationToken);
}
