using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Store;

/// <summary><c>&lt;root&gt;/sbs/&lt;sandboxId&gt;/&lt;containerId&gt;/persist.json</c>: Kata's <c>persistapi.ContainerState</c>, the parts this host has.</summary>
public sealed record ContainerPersistState
{
    /// <summary>The container id.</summary>
    public required string ContainerId { get; init; }

    /// <summary>The state: ready, running, paused or stopped.</summary>
    public required string State { get; init; }

    /// <summary>The host path of the root file system.</summary>
    public string? Rootfs { get; init; }

    /// <summary>The container's first process.</summary>
    public required ProcessInfo Process { get; init; }

    /// <summary>The container's configuration, resources as last updated.</summary>
    public required ContainerConfig Config { get; init; }
}
