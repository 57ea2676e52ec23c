using System.Runtime.InteropServices;

namespace KataWorkflows.Netns.Tests;

/// <summary>The libc calls the tests need to open a tap inside a namespace, as QEMU does for the guest's NIC.</summary>
internal static partial class Native
{
    public const int ORdonly = 0;
    public const int ORdwr = 2;
    public const int CloneNewNet = 0x40000000;
    public const uint TunSetIff = 0x400454ca;
    public const short IffTap = 0x0002;
    public const short IffNoPi = 0x1000;
    public const short PollIn = 0x0001;

    [LibraryImport("libc", SetLastError = true)]
    public static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setns(int fd, int nstype);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, [In] byte[] argument);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, [Out] byte[] buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, [In] byte[] buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int poll([In, Out] PollFd[] fds, nuint count, int timeout);

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }
}
