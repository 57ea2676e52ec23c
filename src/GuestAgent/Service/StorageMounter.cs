using Grpc.Core;
using KataWorkflows.GuestAgent.Native;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Ttrpc;

namespace KataWorkflows.GuestAgent.Service;

/// <summary>
/// Mounts the storages CreateSandbox and CreateContainer name: Kata's drivers <c>9p</c>, <c>virtio-fs</c>,
/// <c>blk</c>/<c>virtio-blk</c> (a block device path such as <c>/dev/vda</c>), <c>ephemeral</c> (tmpfs) and
/// <c>local</c> (a directory). A mount point already holding the same source (init mounts kataShared itself) is
/// left as it is.
/// </summary>
internal static class StorageMounter
{
    /// <summary>The storage drivers this agent handles (reported by GetGuestDetails).</summary>
    public static readonly string[] Drivers = ["9p", "virtio-fs", "blk", "virtio-blk", "ephemeral", "local"];

    /// <summary>Mounts each storage in order; on a failure unmounts what this call mounted and throws.</summary>
    public static IReadOnlyList<string> MountAll(IEnumerable<Storage> storages)
    {
        var mounted = new List<string>();
        try
        {
            foreach (var storage in storages)
            {
                if (Mount(storage))
                {
                    mounted.Add(storage.MountPoint);
                }
            }
            return mounted;
        }
        catch
        {
            UnmountAll(mounted);
            throw;
        }
    }

    /// <summary>Unmounts in reverse order; what is already gone is skipped.</summary>
    public static void UnmountAll(IEnumerable<string> mountPoints)
    {
        foreach (var mountPoint in mountPoints.Reverse())
        {
            if (IsMountPoint(mountPoint))
            {
                Libc.Unmount(mountPoint, Libc.MntDetach);
            }
        }
    }

    private static bool Mount(Storage storage)
    {
        if (string.IsNullOrEmpty(storage.MountPoint) || !storage.MountPoint.StartsWith('/'))
        {
            throw new TtrpcException(StatusCode.InvalidArgument, $"storage {storage.Source}: mount_point \"{storage.MountPoint}\" is not an absolute path");
        }
        var (fileSystemType, source) = storage.Driver switch
        {
            "9p" => ("9p", storage.Source),
            "virtio-fs" or "virtiofs" => ("virtiofs", storage.Source),
            "blk" or "virtio-blk" or "mmioblk" => (NonEmpty(storage.Fstype, "ext4"), storage.Source),
            "ephemeral" => ("tmpfs", "tmpfs"),
            "local" => ("", storage.Source),
            _ => throw new TtrpcException(StatusCode.InvalidArgument,
                $"Unknown storage driver \"{storage.Driver}\" (this agent handles {string.Join(", ", Drivers)})"),
        };
        if (storage.Driver == "local")
        {
            Directory.CreateDirectory(storage.MountPoint);
            return false;
        }
        if (storage.Driver is "blk" or "virtio-blk" or "mmioblk" && !File.Exists(source) && !Directory.Exists("/sys/class/block/" + Path.GetFileName(source)))
        {
            throw new TtrpcException(StatusCode.NotFound, $"storage block device {source} does not exist in the guest");
        }
        if (MountedSource(storage.MountPoint) == source)
        {
            return false;
        }
        Directory.CreateDirectory(storage.MountPoint);
        var options = MountOptions.Parse(storage.Options);
        Libc.Mount(source, storage.MountPoint, fileSystemType, options.Flags, options.Data);
        return true;
    }

    private static string NonEmpty(string value, string fallback) => string.IsNullOrEmpty(value) ? fallback : value;

    private static bool IsMountPoint(string path) => MountedSource(path) is not null;

    /// <summary>The source mounted at <paramref name="path"/> (the last mount there), or null.</summary>
    private static string? MountedSource(string path)
    {
        string? source = null;
        foreach (var line in File.ReadLines("/proc/self/mounts"))
        {
            var fields = line.Split(' ');
            if (fields.Length >= 2 && Unescape(fields[1]) == path.TrimEnd('/'))
            {
                source = Unescape(fields[0]);
            }
        }
        return source;
    }

    private static string Unescape(string field) =>
        field.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
            .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}
