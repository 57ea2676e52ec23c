using System.Text.Json.Serialization;

namespace KataWorkflows.GuestAgent.Launch;

/// <summary>
/// What the launcher (the agent binary run as <c>container-init</c> or <c>exec-init</c> inside the container's
/// namespaces) needs to set a process up: written by the agent as JSON, read by the launcher before it execs.
/// </summary>
internal sealed record LaunchSpec
{
    /// <summary>The container's rootfs in the guest; the launcher chroots into it.</summary>
    public required string Rootfs { get; init; }

    /// <summary>The container's cgroup directory; the launcher moves itself into it first.</summary>
    public required string CgroupPath { get; init; }

    public required IReadOnlyList<string> Args { get; init; }

    public IReadOnlyList<string> Env { get; init; } = [];

    public string Cwd { get; init; } = "/";

    public uint Uid { get; init; }

    public uint Gid { get; init; }

    public IReadOnlyList<uint> AdditionalGids { get; init; } = [];

    /// <summary>The UTS hostname the container gets (only the init process sets it).</summary>
    public string? Hostname { get; init; }

    /// <summary>The OCI mounts made in the rootfs before the chroot (only the init process makes them).</summary>
    public IReadOnlyList<LaunchMount> Mounts { get; init; } = [];

    /// <summary>Mount the rootfs read-only (only the init process).</summary>
    public bool ReadonlyRootfs { get; init; }
}

/// <summary>One OCI mount: destination inside the container, type, source and options.</summary>
internal sealed record LaunchMount(string Destination, string Type, string Source, IReadOnlyList<string> Options);

[JsonSerializable(typeof(LaunchSpec))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class LaunchJsonContext : JsonSerializerContext;
