using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KataWorkflows.GuestAgent.Native;

/// <summary>
/// Waits for the host side of a virtio-serial port. While the host is not connected the port reads end-of-file at
/// once and polls as hung up; the driver wakes the port's waiters when the host connects, which an edge-triggered
/// epoll sees as a new event (as Kata's agent waits for it).
/// </summary>
internal static partial class SerialPort
{
    private const uint EpollIn = 0x001;
    private const uint EpollOut = 0x004;
    private const uint EpollHup = 0x010;
    private const uint EpollRdHup = 0x2000;
    private const uint EpollEdgeTriggered = 1u << 31;
    private const int EpollCtlAdd = 1;
    private const int EpollCloexec = 0x80000;
    private const int Eintr = 4;

    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epoll, int operation, int fd, ref EpollEvent events);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epoll, ref EpollEvent events, int maxEvents, int timeoutMilliseconds);

    /// <summary>Blocks until the host side of the port is connected, or the token is cancelled.</summary>
    public static void WaitForHost(SafeFileHandle port, CancellationToken cancellationToken)
    {
        var epoll = EpollCreate(EpollCloexec);
        if (epoll < 0)
        {
            throw new Win32Exception(Marshal.GetLastPInvokeError(), "epoll_create1");
        }
        try
        {
            var registration = new EpollEvent { Events = EpollIn | EpollOut | EpollRdHup | EpollEdgeTriggered };
            if (EpollCtl(epoll, EpollCtlAdd, (int)port.DangerousGetHandle(), ref registration) != 0)
            {
                throw new Win32Exception(Marshal.GetLastPInvokeError(), "epoll_ctl");
            }
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var ready = new EpollEvent();
                var count = EpollWait(epoll, ref ready, 1, 500);
                if (count < 0)
                {
                    var error = Marshal.GetLastPInvokeError();
                    if (error == Eintr)
                    {
                        continue;
                    }
                    throw new Win32Exception(error, "epoll_wait");
                }
                if (count == 1 && (ready.Events & EpollHup) == 0 && (ready.Events & (EpollIn | EpollOut)) != 0)
                {
                    return;
                }
            }
        }
        finally
        {
            Libc.Close(epoll);
        }
    }
}
