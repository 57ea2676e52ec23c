using System.Runtime.InteropServices;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>File types and signals the driver needs that .NET does not expose (Linux x86-64).</summary>
internal static partial class UnixFiles
{
    private const uint TypeMask = 0xF000;
    private const uint RegularType = 0x8000;
    private const uint BlockType = 0x6000;

    /// <summary>Whether the path (links followed) is a regular file.</summary>
    public static bool IsRegularFile(string path) => ModeOf(path) is { } mode && (mode & TypeMask) == RegularType;

    /// <summary>Whether the path (links followed) is a block device.</summary>
    public static bool IsBlockDevice(string path) => ModeOf(path) is { } mode && (mode & TypeMask) == BlockType;

    /// <summary>Sends a signal; false when the process does not exist.</summary>
    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;

    private static unsafe uint? ModeOf(string path)
    {
        // struct stat on x86-64 Linux is 144 bytes with st_mode (u32) at offset 24.
        var buffer = stackalloc byte[256];
        return Stat(path, buffer) == 0 ? *(uint*)(buffer + 24) : null;
    }

    [LibraryImport("libc", EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Stat(string path, byte* buffer);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
