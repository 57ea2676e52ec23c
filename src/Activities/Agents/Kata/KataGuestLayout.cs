namespace KataWorkflows.Activities.Agents.Kata;

/// <summary>
/// Where a sandbox's agent socket and shared file system are, on the host and in the guest (Kata 1.x's layout,
/// the virtio-serial agent channel and the 9p share). The hypervisor driver creates what these paths name: the
/// agent channel as a listening <c>chardev socket</c> at <see cref="AgentSocket"/>, the 9p export of
/// <see cref="HostShare"/> with mount tag <see cref="ShareMountTag"/>.
/// </summary>
public static class KataGuestLayout
{
    /// <summary>The 9p mount tag of the shared directory (Kata's <c>kataShared</c>).</summary>
    public const string ShareMountTag = "kataShared";

    /// <summary>Where the guest mounts the shared directory (Kata's <c>kataGuestSharedDir</c>).</summary>
    public const string GuestSharedDirectory = "/run/kata-containers/shared/containers/";

    /// <summary>Where the guest mounts a sandbox's /dev/shm tmpfs (Kata's <c>kataGuestSandboxDir</c> + shm).</summary>
    public const string GuestShmDirectory = "/run/kata-containers/sandbox/shm";

    /// <summary>The 9p mount options Kata 1.x sends (<c>sharedDir9pOptions</c> and the default msize of 8192).</summary>
    public static IReadOnlyList<string> NinePOptions { get; } = ["trans=virtio,version=9p2000.L,cache=mmap", "nodev", "msize=8192"];

    /// <summary>
    /// The host end of a sandbox's agent channel: <c>&lt;runRoot&gt;/vm/&lt;sandboxId&gt;/kata.sock</c>, Kata's
    /// <c>/run/vc/vm/&lt;id&gt;/kata.sock</c> under the host store's run root.
    /// </summary>
    public static string AgentSocket(string runRoot, string sandboxId)
    {
        ArgumentException.ThrowIfNullOrEmpty(runRoot);
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        return Path.Join(runRoot, "vm", sandboxId, "kata.sock");
    }

    /// <summary>The host directory exported to the sandbox's guest: <c>&lt;sharedDirectory&gt;/&lt;sandboxId&gt;</c>.</summary>
    public static string HostShare(string sharedDirectory, string sandboxId)
    {
        ArgumentException.ThrowIfNullOrEmpty(sharedDirectory);
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        return Path.Join(sharedDirectory, sandboxId);
    }

    /// <summary>Where a container's rootfs is on the host, inside the share: <c>&lt;share&gt;/&lt;containerId&gt;/rootfs</c>.</summary>
    public static string HostRootfs(string sharedDirectory, string sandboxId, string containerId) =>
        Path.Join(HostShare(sharedDirectory, sandboxId), containerId, "rootfs");

    /// <summary>Where the guest sees a container's rootfs: <c>/run/kata-containers/shared/containers/&lt;containerId&gt;/rootfs</c>.</summary>
    public static string GuestRootfs(string containerId)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        return GuestSharedDirectory + containerId + "/rootfs";
    }
}
