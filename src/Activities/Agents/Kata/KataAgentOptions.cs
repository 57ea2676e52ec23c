namespace KataWorkflows.Activities.Agents.Kata;

/// <summary>The Kata agent driver's settings (Kata's defaults).</summary>
public sealed class KataAgentOptions
{
    /// <summary>The configuration section these options are usually bound from.</summary>
    public const string SectionName = "KataAgent";

    /// <summary>Kata's host directory of the sandboxes' shared file systems.</summary>
    public const string DefaultSharedDirectory = "/run/kata-containers/shared/sandboxes";

    /// <summary>
    /// The host directory whose <c>&lt;sandboxId&gt;</c> sub-directory the hypervisor exports to the guest as the 9p
    /// share <c>kataShared</c> (Kata's <c>/run/kata-containers/shared/sandboxes</c>). The driver bind-mounts each
    /// container's rootfs under it. An absolute path.
    /// </summary>
    public string SharedDirectory { get; set; } = DefaultSharedDirectory;

    /// <summary>How long to wait for the agent's socket to accept a connection (Kata's dial timeout: 15 s).</summary>
    public TimeSpan DialTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the health check may take (Kata's <c>checkRequestTimeout</c>: 30 s).</summary>
    public TimeSpan CheckTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long every other call may take, except WaitProcess, which waits as long as it must (Kata's <c>defaultRequestTimeout</c>: 60 s).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Whether the driver bind-mounts a container's <c>RootFs</c> into the shared directory before creating it (and
    /// unmounts it after removing it), as Kata's agent driver does. Off, the rootfs must already be at
    /// <see cref="KataGuestLayout.HostRootfs"/>.
    /// </summary>
    public bool BindMountRootfs { get; set; } = true;
}
