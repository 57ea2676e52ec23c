using System.Text.Json;
using KataWorkflows.GuestAgent.Native;

namespace KataWorkflows.GuestAgent.Launch;

/// <summary>
/// The process launcher: the agent binary started again, already inside the container's new namespaces (by
/// busybox <c>unshare</c> for a container's first process, <c>nsenter</c> for an exec), a fresh single process
/// that can safely make the calls .NET cannot make in the multi-threaded agent. It joins the container's cgroup,
/// (for the first process) makes the OCI mounts and sets the hostname, chroots into the rootfs, takes the user's
/// identity and execs the program. It talks to the agent over two inherited pipes: it writes <c>ready PID</c>
/// (its PID as the guest sees it) or <c>error MESSAGE</c> on the status pipe, waits for one byte on the start pipe
/// (first process only; StartContainer sends it), and execs with the status pipe marked close-on-exec, so the
/// agent reads end-of-file when the exec worked and <c>error ...</c> when it did not.
/// </summary>
internal static class ContainerInit
{
    public const string InitMode = "container-init";
    public const string ExecMode = "exec-init";

    private const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private static readonly string[] DefaultDevices = ["null", "zero", "full", "random", "urandom", "tty"];

    /// <summary>
    /// Runs the launcher: <c>container-init SPEC STATUS_PIPE START_PIPE</c> or <c>exec-init SPEC STATUS_PIPE</c>, the
    /// pipes named by their <c>/proc/&lt;agent&gt;/fd/N</c> paths.
    /// </summary>
    public static int Run(string[] args)
    {
        var init = args[0] == InitMode;
        if (args.Length != (init ? 4 : 3))
        {
            Console.Error.WriteLine($"usage: kata-agent {InitMode} SPEC STATUS_PIPE START_PIPE | {ExecMode} SPEC STATUS_PIPE");
            return 2;
        }
        int statusFd;
        try
        {
            statusFd = Libc.Open(args[2], write: true);
        }
        catch (System.ComponentModel.Win32Exception error)
        {
            Console.Error.WriteLine(error.Message);
            return 127;
        }
        try
        {
            var startFd = init ? Libc.Open(args[3], write: false) : -1;
            var spec = JsonSerializer.Deserialize(File.ReadAllText(args[1]), LaunchJsonContext.Default.LaunchSpec)
                ?? throw new InvalidOperationException($"{args[1]} holds no launch spec");
            JoinCgroup(spec.CgroupPath);
            // /proc is still the guest's here: its "self" is this process's PID in the guest.
            var guestPid = new DirectoryInfo("/proc/self").LinkTarget ?? throw new InvalidOperationException("/proc/self is not a link");
            if (init)
            {
                PrepareRootfs(spec);
                if (!string.IsNullOrEmpty(spec.Hostname))
                {
                    Libc.SetHostName(spec.Hostname);
                }
            }
            var program = Resolve(spec);
            Libc.WriteAll(statusFd, $"ready {guestPid}\n");
            if (init)
            {
                if (!Libc.ReadByte(startFd))
                {
                    // The agent closed the start pipe without starting: the container was removed before it ran.
                    return 0;
                }
                Libc.Close(startFd);
            }
            Libc.Chroot(spec.Rootfs);
            Libc.Chdir(spec.Cwd.Length == 0 ? "/" : spec.Cwd);
            Libc.SetIdentity(spec.Uid, spec.Gid, [.. spec.AdditionalGids]);
            Libc.Execve(program, spec.Args, spec.Env);
            return 127;
        }
#pragma warning disable CA1031 // Whatever failed is reported to the agent, which turns it into the RPC's error.
        catch (Exception error)
#pragma warning restore CA1031
        {
            try
            {
                Libc.WriteAll(statusFd, $"error {error.Message.ReplaceLineEndings(" ")}\n");
            }
#pragma warning disable CA1031 // The agent is gone; stderr is all that is left.
            catch (Exception)
#pragma warning restore CA1031
            {
                Console.Error.WriteLine(error.Message);
            }
            return 127;
        }
    }

    private static void JoinCgroup(string cgroupPath)
    {
        using var handle = File.OpenHandle(Path.Join(cgroupPath, "cgroup.procs"), FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        RandomAccess.Write(handle, "0"u8, 0);
    }

    /// <summary>The program's path inside the rootfs, searched on the PATH of its environment when it has no slash.</summary>
    private static string Resolve(LaunchSpec spec)
    {
        if (spec.Args.Count == 0 || spec.Args[0].Length == 0)
        {
            throw new InvalidOperationException("the process has no args: nothing to run");
        }
        var program = spec.Args[0];
        if (program.Contains('/', StringComparison.Ordinal))
        {
            var relative = program.StartsWith('/') ? program : Path.Join(spec.Cwd, program);
            if (!File.Exists(Path.Join(spec.Rootfs, relative)))
            {
                throw new FileNotFoundException($"{program}: no such file in the container's rootfs");
            }
            return relative;
        }
        var path = spec.Env.FirstOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..] ?? DefaultPath;
        foreach (var directory in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Join(directory, program);
            if (File.Exists(Path.Join(spec.Rootfs, candidate)))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException($"{program}: not found on PATH {path} in the container's rootfs");
    }

    private static void PrepareRootfs(LaunchSpec spec)
    {
        if (!Directory.Exists(spec.Rootfs))
        {
            throw new DirectoryNotFoundException($"the rootfs {spec.Rootfs} does not exist");
        }
        // Nothing mounted below here leaks back to the guest (busybox unshare already made / private; this makes sure).
        Libc.Mount(null, "/", null, Libc.MsRec | Libc.MsPrivate, null);
        Libc.Mount(spec.Rootfs, spec.Rootfs, null, Libc.MsBind | Libc.MsRec, null);
        var mountedProc = false;
        var mountedDev = false;
        foreach (var mount in spec.Mounts)
        {
            var target = Inside(spec.Rootfs, mount.Destination);
            var options = MountOptions.Parse(mount.Options);
            var bind = mount.Type == "bind" || options.IsBind;
            if (bind && File.Exists(mount.Source))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                if (!File.Exists(target))
                {
                    File.WriteAllBytes(target, []);
                }
            }
            else
            {
                Directory.CreateDirectory(target);
            }
            if (bind)
            {
                Libc.Mount(mount.Source, target, null, Libc.MsBind | (options.Flags & Libc.MsRec), null);
                var remountFlags = options.Flags & ~(Libc.MsBind | Libc.MsRec);
                if (remountFlags != 0)
                {
                    Libc.Mount(null, target, null, Libc.MsRemount | Libc.MsBind | remountFlags, null);
                }
            }
            else
            {
                Libc.Mount(mount.Source, target, mount.Type, options.Flags, options.Data);
            }
            if (options.Propagation != 0)
            {
                Libc.Mount(null, target, null, options.Propagation, null);
            }
            mountedProc |= mount.Destination.TrimEnd('/') == "/proc";
            mountedDev |= mount.Destination.TrimEnd('/') == "/dev";
        }
        if (!mountedProc)
        {
            var proc = Inside(spec.Rootfs, "/proc");
            Directory.CreateDirectory(proc);
            Libc.Mount("proc", proc, "proc", Libc.MsNoSuid | Libc.MsNoDev | Libc.MsNoExec, null);
        }
        var dev = Inside(spec.Rootfs, "/dev");
        if (!mountedDev)
        {
            Directory.CreateDirectory(dev);
            Libc.Mount("tmpfs", dev, "tmpfs", Libc.MsNoSuid, "mode=755,size=65536k");
        }
        foreach (var device in DefaultDevices)
        {
            var target = Path.Join(dev, device);
            if (!File.Exists(target))
            {
                File.WriteAllBytes(target, []);
                Libc.Mount(Path.Join("/dev", device), target, null, Libc.MsBind, null);
            }
        }
        if (spec.ReadonlyRootfs)
        {
            Libc.Mount(null, spec.Rootfs, null, Libc.MsRemount | Libc.MsBind | Libc.MsReadOnly, null);
        }
    }

    /// <summary>A container path under the rootfs; one that climbs out of it with ".." is refused.</summary>
    private static string Inside(string rootfs, string containerPath)
    {
        var full = Path.GetFullPath(Path.Join(rootfs, containerPath));
        var root = Path.GetFullPath(rootfs).TrimEnd('/');
        if (full != root && !full.StartsWith(root + "/", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"mount destination {containerPath} is outside the rootfs");
        }
        return full;
    }
}
