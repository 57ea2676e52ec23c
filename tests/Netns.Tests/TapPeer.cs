using System.Runtime.InteropServices;
using System.Text;

namespace KataWorkflows.Netns.Tests;

/// <summary>
/// The guest's side of a tap: the tap is opened by name inside the sandbox's namespace (TUNSETIFF on /dev/net/tun
/// from a thread moved into the namespace, as QEMU's <c>-netdev tap,ifname=</c> does), so every frame the redirect
/// sends to the tap is read here, and every frame written here enters the tap.
/// </summary>
internal sealed class TapPeer : IDisposable
{
    private readonly int _fd;

    private TapPeer(int fd) => _fd = fd;

    public static TapPeer Open(string netnsPath, string tap)
    {
        var fd = -1;
        string? error = null;

        // setns changes the calling thread's namespace only: a thread of its own does it, and ends.
        var thread = new Thread(() =>
        {
            var ns = Native.open(netnsPath, Native.ORdonly);
            if (ns < 0 || Native.setns(ns, Native.CloneNewNet) != 0)
            {
                error = $"setns into {netnsPath} failed: errno {Marshal.GetLastPInvokeError()}";
                return;
            }

            Native.close(ns);
            var tun = Native.open("/dev/net/tun", Native.ORdwr);
            var request = new byte[40];
            Encoding.ASCII.GetBytes(tap).CopyTo(request, 0);
            BitConverter.GetBytes((short)(Native.IffTap | Native.IffNoPi)).CopyTo(request, 16);
            if (tun < 0 || Native.ioctl(tun, Native.TunSetIff, request) != 0)
            {
                error = $"TUNSETIFF {tap} in {netnsPath} failed: errno {Marshal.GetLastPInvokeError()}";
                return;
            }

            fd = tun;
        });
        thread.Start();
        thread.Join();
        return error is null ? new TapPeer(fd) : throw new InvalidOperationException(error);
    }

    /// <summary>Reads frames until one matches, answering what <paramref name="answer"/> returns a reply for; throws after the timeout.</summary>
    public byte[] ReadUntil(Func<byte[], bool> wanted, Func<byte[], byte[]?> answer, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var buffer = new byte[65536];
        var seen = new List<string>();
        while (DateTime.UtcNow < deadline)
        {
            var fds = new[] { new Native.PollFd { Fd = _fd, Events = Native.PollIn } };
            var left = (int)Math.Max(1, (deadline - DateTime.UtcNow).TotalMilliseconds);
            if (Native.poll(fds, 1, left) <= 0)
            {
                continue;
            }

            var read = (int)Native.read(_fd, buffer, (nuint)buffer.Length);
            if (read <= 0)
            {
                continue;
            }

            var frame = buffer[..read];
            if (wanted(frame))
            {
                return frame;
            }

            seen.Add(Frames.Describe(frame));
            if (answer(frame) is { } reply)
            {
                Write(reply);
            }
        }

        throw new TimeoutException($"no wanted frame on the tap within {timeout}; saw: {(seen.Count == 0 ? "nothing" : string.Join(", ", seen))}");
    }

    public void Write(byte[] frame)
    {
        if (Native.write(_fd, frame, (nuint)frame.Length) != frame.Length)
        {
            throw new InvalidOperationException($"writing a frame to the tap failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Dispose() => Native.close(_fd);
}
