namespace KataWorkflows.Activities.Networks.TcFilter;

/// <summary>
/// What the tcfilter driver keeps about one sandbox's network, written before it creates anything, so that a removal
/// after a crash (even one given no <see cref="Orchestrations.Model.NetworkState"/>) knows what to remove.
/// </summary>
public sealed record TcFilterLease
{
    /// <summary>The sandbox's network namespace.</summary>
    public required string NetNsPath { get; init; }

    /// <summary>True when the driver creates (and so removes) the namespace; false for one it adopted.</summary>
    public bool NetNsCreated { get; init; }

    /// <summary>The subnet leased from the pool (CIDR), or null when the sandbox's config names its address.</summary>
    public string? Subnet { get; init; }

    /// <summary>The interfaces added to the sandbox besides its own endpoint (<c>eth0</c>), by name.</summary>
    public IReadOnlyList<string> Interfaces { get; init; } = [];
}
