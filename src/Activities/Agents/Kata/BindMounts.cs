using System.Runtime.InteropServices;
using System.Text;

namespace KataWorkflows.Activities.Agents.Kata;

/// <summary>
/// Host bind mounts of container root file systems into a sandbox's shared directory (Kata's
/// <c>bindMountContainerRootfs</c>: <c>mount(source, target, "bind", MS_BIND)</c>, then private propagation).
/// Both directions are idempotent: a target that is already a mount point is left as it is, one that is not is not
/// unmounted.
/// </summary>
internal static partial class BindMounts
{
    private const nuint MsBind = 0x1000;
    private const nuint MsRec = 0x4000;
    private const nuint MsPrivate = 0x40000;
    private const int MntDetach = 2;

    public static void Bind(string source, string target)
    {
        if (!Directory.Exists(source))
        {
            throw new DirectoryNotFoundException($"The container rootfs {source} does not exist on the host.");
        }

        Directory.CreateDirectory(target);
        if (IsMountPoint(target))
        {
            return;
        }

        if (Mount(source, target, "bind", MsBind | MsRec, IntPtr.Zero) != 0)
        {
            throw new IOException($"Bind-mounting the container rootfs {source} on {target} failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        if (Mount("none", target, null, MsPrivate, IntPtr.Zero) != 0)
        {
            var error = Marshal.GetLastPInvokeErrorMessage();
            _ = Umount2(target, MntDetach);
            throw new IOException($"Making the bind mount {target} private failed: {error}");
        }
    }

    /// <summary>Unmounts a target if it is a mount point, then removes the directory if it is empty.</summary>
    public static void Unbind(string target)
    {
        if (IsMountPoint(target) && Umount2(target, MntDetach) != 0)
        {
            throw new IOException($"Unmounting the container rootfs {target} failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        if (Directory.Exists(target) && !Directory.EnumerateFileSystemEntries(target).Any())
        {
            Directory.Delete(target);
        }
    }

    /// <summary>The mount points at or below a directory, deepest first.</summary>
    public static IReadOnlyList<string> MountsUnder(string directory)
    {
        var root = directory.TrimEnd('/');
        return MountPoints()
            .Where(m => m == root || m.StartsWith(root + "/", StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal)
            .OrderByDescending(m => m.Length)
            .ToList();
    }

    public static bool IsMountPoint(string path)
    {
        var full = Path.GetFullPath(path).TrimEnd('/');
        return MountPoints().Contains(full, StringComparer.Ordinal);
    }

    private static IEnumerable<string> MountPoints()
    {
        // mountinfo field 5 is the mount point, with space, tab, newline and backslash written as octal escapes.
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            if (fields.Length > 4)
            {
                yield return Unescape(fields[4]);
            }
        }
    }

    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var bytes = new List<byte>(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                bytes.Add((byte)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }

    private static bool IsOctal(string s, int start) =>
        start + 3 <= s.Length && s.Substring(start, 3).All(c => c is >= '0' and <= '7');

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Mount(string source, string target, string? fileSystemType, nuint flags, IntPtr data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2(string target, int flags);
}
