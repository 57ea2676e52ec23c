using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Store;

/// <summary>
/// <c>&lt;root&gt;/sbs/&lt;sandboxId&gt;/persist.json</c>: Kata's <c>persistapi.SandboxState</c> (persist version 2), the
/// parts this host has, with camelCase names.
/// </summary>
public sealed record SandboxPersistState
{
    /// <summary>Kata's <c>CurPersistVersion</c>.</summary>
    public const int CurrentPersistVersion = 2;

    /// <summary>The layout version: <see cref="CurrentPersistVersion"/>.</summary>
    public int PersistVersion { get; init; } = CurrentPersistVersion;

    /// <summary>The sandbox id.</summary>
    public required string SandboxId { get; init; }

    /// <summary>The state: ready, running, paused or stopped.</summary>
    public required string State { get; init; }

    /// <summary>The guest memory block size in MiB.</summary>
    public long GuestMemoryBlockSizeMB { get; init; }

    /// <summary>Whether the guest supports memory hot-plug by probe.</summary>
    public bool GuestMemoryHotplugProbe { get; init; }

    /// <summary>The VM; null when it is not running.</summary>
    public HypervisorPersistState? HypervisorState { get; init; }

    /// <summary>The network namespace and its endpoints; null when there is none.</summary>
    public NetworkState? Network { get; init; }

    /// <summary>Devices added to the sandbox.</summary>
    public IReadOnlyList<DeviceRecord> Devices { get; init; } = [];

    /// <summary>Routes last applied in the guest.</summary>
    public IReadOnlyList<RouteRecord> Routes { get; init; } = [];

    /// <summary>The configuration the sandbox was created with.</summary>
    public required SandboxConfig Config { get; init; }

    /// <summary>Why the sandbox needs cleanup, when a failed operation could not be undone.</summary>
    public string? CleanupReason { get; init; }

    /// <summary>When the record was last changed (orchestration time).</summary>
    public DateTime UpdatedAt { get; init; }
}
