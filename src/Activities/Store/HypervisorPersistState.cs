namespace KataWorkflows.Activities.Store;

/// <summary>Kata's <c>persistapi.HypervisorState</c>, the parts this host has.</summary>
public sealed record HypervisorPersistState
{
    /// <summary>The hypervisor type.</summary>
    public required string Type { get; init; }

    /// <summary>The hypervisor process id (0 for the mock).</summary>
    public int Pid { get; init; }

    /// <summary>The VM's UUID.</summary>
    public string Uuid { get; init; } = string.Empty;

    /// <summary>Block device index per device id.</summary>
    public IReadOnlyDictionary<string, int> BlockIndexMap { get; init; } = new Dictionary<string, int>();

    /// <summary>The VM's run directory.</summary>
    public string? RunDirectory { get; init; }

    /// <summary>True while the VM is paused.</summary>
    public bool Paused { get; init; }
}
