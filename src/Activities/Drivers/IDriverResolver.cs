using KataWorkflows.Activities.Agents;
using KataWorkflows.Activities.Hypervisors;
using KataWorkflows.Activities.Networks;

namespace KataWorkflows.Activities.Drivers;

/// <summary>Picks a sandbox's drivers by the type names in its configuration.</summary>
public interface IDriverResolver
{
    /// <summary>The hypervisor driver for a <c>HypervisorType</c>.</summary>
    /// <exception cref="DriverUnavailableException">No driver of that type is available on this host.</exception>
    IHypervisor GetHypervisor(string hypervisorType);

    /// <summary>The agent driver for an <c>AgentType</c>.</summary>
    /// <exception cref="DriverUnavailableException">No driver of that type is available on this host.</exception>
    IAgent GetAgent(string agentType);

    /// <summary>The network driver for an <c>InterworkingModel</c>.</summary>
    /// <exception cref="DriverUnavailableException">No driver of that model is available on this host.</exception>
    INetworkDriver GetNetwork(string interworkingModel);
}
