namespace KataWorkflows.GuestAgent;

/// <summary>Where the agent serves and keeps its state; set from the command line.</summary>
internal sealed record AgentOptions
{
    /// <summary>The virtio-serial port (or any character device or file) the agent serves ttrpc on.</summary>
    public required string Channel { get; init; }

    /// <summary>The cgroup v2 mount.</summary>
    public string CgroupRoot { get; init; } = "/sys/fs/cgroup";

    /// <summary>The cgroup under <see cref="CgroupRoot"/> that holds one cgroup per container.</summary>
    public string CgroupParent { get; init; } = "kata";

    /// <summary>Where the agent writes its containers' launch specs.</summary>
    public string StateDirectory { get; init; } = "/run/kata-agent";
}
