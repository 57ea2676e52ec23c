using System.ComponentModel;
using System.Runtime.InteropServices;

namespace KataWorkflows.Activities.Agents.Kata;

/// <summary>
/// A host file's mode (type and permission bits), owner and group, as <c>stat(2)</c> gives them: what Kata's
/// <c>copyFile</c> sends with the data. .NET has no API for a file's owner, so this asks <c>statx(2)</c>, whose
/// layout is the same on every architecture.
/// </summary>
internal readonly partial record struct HostFileStatus(uint Mode, uint Uid, uint Gid)
{
    private const int AtFdCwd = -100;
    private const uint StatxBasicStats = 0x7ff;

    // struct statx: stx_mask u32 @0, stx_blksize u32 @4, stx_attributes u64 @8, stx_nlink u32 @16, stx_uid u32 @20,
    // stx_gid u32 @24, stx_mode u16 @28 ... 256 bytes in all.
    private const int StatxSize = 256;

    /// <summary>The status of the file at <paramref name="path"/> (links followed).</summary>
    /// <exception cref="Win32Exception">The file cannot be stat'ed; the message is the system's.</exception>
    public static unsafe HostFileStatus Of(string path)
    {
        var buffer = stackalloc byte[StatxSize];
        if (Statx(AtFdCwd, path, 0, StatxBasicStats, buffer) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            throw new Win32Exception(error, $"statx {path}: {Marshal.GetPInvokeErrorMessage(error)}");
        }

        return new HostFileStatus(*(ushort*)(buffer + 28), *(uint*)(buffer + 20), *(uint*)(buffer + 24));
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int directoryFd, string path, int flags, uint mask, byte* buffer);
}
