using System.Globalization;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Protocol.Agent;
using AgentTypes = KataWorkflows.Protocol.Agent.Types;

namespace KataWorkflows.Activities.Agents.Kata;

/// <summary>The agent API's messages built from the sandbox model, and back (Kata's kata_agent.go conversions).</summary>
public sealed partial class KataAgent
{
    /// <summary>The OCI runtime spec version the container specs say they follow.</summary>
    public const string OciVersion = "1.0.2";

    /// <summary>Kata's <c>maxHostnameLen</c>: a longer host name is cut to it.</summary>
    public const int MaxHostnameLength = 64;

    internal static CreateSandboxRequest BuildCreateSandbox(string sandboxId, SandboxConfig config)
    {
        var hostname = config.Hostname ?? string.Empty;
        var request = new CreateSandboxRequest
        {
            Hostname = hostname.Length > MaxHostnameLength ? hostname[..MaxHostnameLength] : hostname,
            SandboxPidns = config.SharePidNs,
            SandboxId = sandboxId,
        };

        // The containers' rootfs reach the guest through the 9p share, mounted where Kata mounts it.
        var share = new Storage
        {
            Driver = "9p",
            Source = KataGuestLayout.ShareMountTag,
            Fstype = "9p",
            MountPoint = KataGuestLayout.GuestSharedDirectory,
        };
        share.Options.AddRange(KataGuestLayout.NinePOptions);
        request.Storages.Add(share);
        if (config.ShmSize > 0)
        {
            // Kata's setupSharedMemory: a sandbox-wide tmpfs for /dev/shm of the given size.
            var shm = new Storage
            {
                Driver = "ephemeral",
                Source = "shm",
                Fstype = "tmpfs",
                MountPoint = KataGuestLayout.GuestShmDirectory,
            };
            shm.Options.AddRange(["noexec", "nosuid", "nodev", "mode=1777", $"size={config.ShmSize.ToString(CultureInfo.InvariantCulture)}"]);
            request.Storages.Add(shm);
        }

        return request;
    }

    internal static Spec BuildSpec(ContainerConfig container)
    {
        var spec = new Spec
        {
            Version = OciVersion,
            Process = BuildProcess(container.Cmd),
            Root = new Root { Path = KataGuestLayout.GuestRootfs(container.Id), Readonly = container.ReadonlyRootfs },
            Linux = new Linux(),
        };
        foreach (var (key, value) in container.Annotations)
        {
            spec.Annotations[key] = value;
        }

        // The mounts of runc's default spec that a container's /proc, /dev and /sys need.
        spec.Mounts.Add(Mount("/proc", "proc", "proc", "nosuid", "noexec", "nodev"));
        spec.Mounts.Add(Mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"));
        spec.Mounts.Add(Mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"));
        spec.Mounts.Add(Mount("/dev/shm", "shm", "tmpfs", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"));
        spec.Mounts.Add(Mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"));

        // Kata's constrainGRPCSpec drops the network namespace: the VM is the network boundary.
        foreach (var ns in new[] { "pid", "ipc", "uts", "mount" })
        {
            spec.Linux.Namespaces.Add(new LinuxNamespace { Type = ns });
        }

        if (container.Resources is { } resources)
        {
            spec.Linux.Resources = BuildResources(resources);
        }

        return spec;
    }

    internal static Process BuildProcess(Cmd cmd)
    {
        var process = new Process
        {
            Terminal = cmd.Interactive,
            Cwd = string.IsNullOrEmpty(cmd.WorkDir) ? "/" : cmd.WorkDir,
            User = UserOf(cmd.User),
        };
        process.Args.AddRange(cmd.Args);
        process.Env.AddRange(cmd.Envs);
        return process;
    }

    internal static LinuxResources BuildResources(ContainerResources resources)
    {
        var linux = new LinuxResources();
        if (resources.CpuPeriod is not null || resources.CpuQuota is not null)
        {
            linux.CPU = new LinuxCPU
            {
                Period = (ulong)(resources.CpuPeriod ?? 0),
                Quota = resources.CpuQuota ?? 0,
            };
        }

        if (resources.MemoryLimitBytes is { } limit)
        {
            linux.Memory = new LinuxMemory { Limit = limit };
        }

        return linux;
    }

    /// <summary>
    /// A command's user as the OCI spec carries it: <c>uid</c> or <c>uid:gid</c> in numbers, or a user name the
    /// guest resolves.
    /// </summary>
    internal static User UserOf(string? user)
    {
        if (string.IsNullOrEmpty(user))
        {
            return new User();
        }

        var parts = user.Split(':', 2);
        if (uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
        {
            var gid = 0u;
            if (parts.Length == 2 && !uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out gid))
            {
                throw new InvalidSandboxArgumentException("cmd.user", $"cmd.user '{user}' must be uid, uid:gid or a user name");
            }

            return new User { UID = uid, GID = gid };
        }

        return new User { Username = user };
    }

    /// <summary>Kata's exec <c>StringUser</c>: the user and group as the command gave them.</summary>
    internal static StringUser? StringUserOf(string? user)
    {
        if (string.IsNullOrEmpty(user))
        {
            return null;
        }

        var parts = user.Split(':', 2);
        return new StringUser { Uid = parts[0], Gid = parts.Length == 2 ? parts[1] : string.Empty };
    }

    internal static ContainerStats ToStats(StatsContainerResponse response)
    {
        var cgroup = response.CgroupStats;
        var limit = cgroup?.MemoryStats?.Usage?.Limit ?? 0;
        return new ContainerStats(
            ToInt64(cgroup?.CpuStats?.CpuUsage?.TotalUsage ?? 0),
            ToInt64(cgroup?.CpuStats?.CpuUsage?.UsageInKernelmode ?? 0),
            ToInt64(cgroup?.MemoryStats?.Usage?.Usage ?? 0),

            // cgroup v1 reports "no limit" as a page-rounded 2^63-1; v2's "max" arrives as 0 or the same.
            limit >= 0x7FFF_FFFF_FFFF_0000UL ? 0 : ToInt64(limit),
            (int)Math.Min(cgroup?.PidsStats?.Current ?? 0, int.MaxValue));
    }

    /// <summary>
    /// Parses <c>ps</c> output (procps <c>-ef</c>: <c>UID PID PPID C STIME TTY TIME CMD</c>; busybox:
    /// <c>PID USER TIME COMMAND</c>): the columns are found by name, the command is the rest of the line.
    /// </summary>
    internal static IReadOnlyList<ProcessRow> ParseProcessTable(string table)
    {
        var lines = table.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length == 0)
        {
            return [];
        }

        var header = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var pid = Array.IndexOf(header, "PID");
        var user = Array.FindIndex(header, h => h is "UID" or "USER");
        var command = Array.FindIndex(header, h => h is "CMD" or "COMMAND" or "ARGS");
        if (pid < 0 || command != header.Length - 1)
        {
            throw new FormatException($"The agent's process list has no PID column or does not end with the command: '{lines[0]}'");
        }

        var rows = new List<ProcessRow>();
        foreach (var line in lines.Skip(1))
        {
            var fields = line.Split(' ', header.Length, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (fields.Length == header.Length && int.TryParse(fields[pid], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                rows.Add(new ProcessRow(value, user < 0 ? string.Empty : fields[user], fields[command]));
            }
        }

        return rows;
    }

    internal static AgentTypes.Interface ToAgent(InterfaceRecord iface)
    {
        var result = new AgentTypes.Interface
        {
            Device = iface.Device,
            Name = iface.Name,
            Mtu = (ulong)Math.Max(0, iface.Mtu),
            HwAddr = iface.HwAddr,
            DevicePath = iface.PciAddr ?? string.Empty,
            Type = iface.LinkType,
        };
        foreach (var address in iface.IpAddresses)
        {
            // Kata sends the prefix length as the mask ("24", not "255.255.255.0").
            var slash = address.IndexOf('/', StringComparison.Ordinal);
            var ip = slash < 0 ? address : address[..slash];
            result.IPAddresses.Add(new AgentTypes.IPAddress
            {
                Family = ip.Contains(':', StringComparison.Ordinal) ? AgentTypes.IPFamily.V6 : AgentTypes.IPFamily.V4,
                Address = ip,
                Mask = slash < 0 ? (ip.Contains(':', StringComparison.Ordinal) ? "128" : "32") : address[(slash + 1)..],
            });
        }

        return result;
    }

    internal static InterfaceRecord FromAgent(AgentTypes.Interface iface) => new()
    {
        Device = iface.Device,
        Name = iface.Name,
        IpAddresses = iface.IPAddresses.Select(a => string.IsNullOrEmpty(a.Mask) ? a.Address : $"{a.Address}/{a.Mask}").ToList(),
        Mtu = (int)Math.Min(iface.Mtu, int.MaxValue),
        HwAddr = iface.HwAddr,
        PciAddr = string.IsNullOrEmpty(iface.DevicePath) ? null : iface.DevicePath,
        LinkType = iface.Type,
    };

    internal static AgentTypes.Route ToAgent(RouteRecord route) => new()
    {
        Dest = route.Dest,
        Gateway = route.Gateway,
        Device = route.Device,
        Source = route.Source,
        Scope = (uint)Math.Max(0, route.Scope),
        Family = (route.Dest + route.Gateway + route.Source).Contains(':', StringComparison.Ordinal) ? AgentTypes.IPFamily.V6 : AgentTypes.IPFamily.V4,
    };

    internal static RouteRecord FromAgent(AgentTypes.Route route) => new()
    {
        Dest = route.Dest,
        Gateway = route.Gateway,
        Device = route.Device,
        Source = route.Source,
        Scope = (int)Math.Min(route.Scope, int.MaxValue),
    };

    private static long ToInt64(ulong value) => value > long.MaxValue ? long.MaxValue : (long)value;

    private static Mount Mount(string destination, string source, string type, params string[] options)
    {
        var mount = new Mount { Destination = destination, Source = source, Type = type };
        mount.Options.AddRange(options);
        return mount;
    }
}
