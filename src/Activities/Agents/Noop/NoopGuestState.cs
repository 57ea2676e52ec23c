using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Agents.Noop;

/// <summary>The guest side the noop agent set up for one sandbox, as kept in its state file.</summary>
public sealed record NoopGuestState
{
    /// <summary>The containers created and not removed, in creation order.</summary>
    public IReadOnlyList<NoopContainerState> Containers { get; init; } = [];

    /// <summary>The interfaces applied.</summary>
    public IReadOnlyList<InterfaceRecord> Interfaces { get; init; } = [];

    /// <summary>The routes last applied.</summary>
    public IReadOnlyList<RouteRecord> Routes { get; init; } = [];
}

/// <summary>A container in a noop guest.</summary>
/// <param name="Id">The container id.</param>
/// <param name="Process">Its first process.</param>
public sealed record NoopContainerState(string Id, ProcessInfo Process);
