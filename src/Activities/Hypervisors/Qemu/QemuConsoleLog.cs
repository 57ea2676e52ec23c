using System.Net.Sockets;
using System.Text;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>
/// Copies a VM's serial console from its socket into <c>console.log</c>, capped: when the file reaches half of the cap
/// it becomes <c>console.log.1</c> (replacing the previous one) and a new file starts, so a guest that writes without
/// end uses at most the cap on disk. Output is read as fast as it comes, so the guest never waits on the host; while no
/// host process reads the socket (between a host crash and its restart), QEMU drops the output. Files are 0600.
/// </summary>
internal sealed class QemuConsoleLog : IAsyncDisposable
{
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly QemuRunDirectory _run;
    private readonly long _halfCap;
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _copy;

    private QemuConsoleLog(QemuRunDirectory run, long maxBytes, Socket socket)
    {
        _run = run;
        _halfCap = Math.Max(4096, maxBytes / 2);
        _socket = socket;
        _copy = Task.Run(CopyAsync, CancellationToken.None);
    }

    /// <summary>Completes when the console ends (QEMU exited) or the copy is stopped.</summary>
    public Task Completion => _copy;

    /// <summary>Connects to the console socket and starts copying.</summary>
    public static async Task<QemuConsoleLog> StartAsync(QemuRunDirectory run, long maxBytes, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(run.ConsoleSocket), cancellationToken).ConfigureAwait(false);
            return new QemuConsoleLog(run, maxBytes, socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The last lines of the console log (both files), at most <paramref name="maxLines"/> lines and
    /// <paramref name="maxChars"/> characters, with control characters (the firmware's escape sequences) replaced.
    /// </summary>
    public static string Tail(QemuRunDirectory run, int maxLines = 40, int maxChars = 4000)
    {
        var text = ReadEnd(run.ConsoleLogPrevious, maxChars) + ReadEnd(run.ConsoleLog, maxChars);
        if (text.Length > maxChars)
        {
            text = text[^maxChars..];
        }

        var lines = text.Replace("\r", string.Empty, StringComparison.Ordinal).Split('\n').Select(Printable).Where(l => l.Trim().Length > 0).ToList();
        return string.Join('\n', lines.Skip(Math.Max(0, lines.Count - maxLines)));
    }

    /// <summary>Stops copying.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        try
        {
            await _copy.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // Ended by the disposal.
        }

        _stop.Dispose();
    }

    /// <summary>Waits until QEMU closed the console (it exited), at most <paramref name="timeout"/>, so the log is complete.</summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        try
        {
            await _copy.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // What arrived so far is in the log.
        }
    }

    private static string ReadEnd(string path, int maxChars)
    {
        try
        {
            using var file = new FileStream(path, System.IO.FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var length = Math.Min(file.Length, maxChars * 2L);
            file.Seek(-length, SeekOrigin.End);
            var buffer = new byte[length];
            file.ReadExactly(buffer);
            return Encoding.UTF8.GetString(buffer);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    private static string Printable(string line)
    {
        var builder = new StringBuilder(line.Length);
        foreach (var c in line)
        {
            builder.Append(char.IsControl(c) && c != '\t' ? '?' : c);
        }

        return builder.ToString();
    }

    private async Task CopyAsync()
    {
        var buffer = new byte[16 * 1024];
        var file = Open(append: true);
        try
        {
            while (true)
            {
                var read = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                var offset = 0;
                while (offset < read)
                {
                    var room = (int)Math.Min(read - offset, Math.Max(0, _halfCap - file.Length));
                    if (room == 0)
                    {
                        await file.DisposeAsync().ConfigureAwait(false);
                        File.Move(_run.ConsoleLog, _run.ConsoleLogPrevious, overwrite: true);
                        file = Open(append: false);
                        continue;
                    }

                    await file.WriteAsync(buffer.AsMemory(offset, room), _stop.Token).ConfigureAwait(false);
                    offset += room;
                }

                await file.FlushAsync(_stop.Token).ConfigureAwait(false);
            }
        }
        finally
        {
            await file.DisposeAsync().ConfigureAwait(false);
        }
    }

    private FileStream Open(bool append)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The QEMU console log is written on Linux only.");
        }

        return new(
        _run.ConsoleLog,
        new FileStreamOptions
        {
            Mode = append ? System.IO.FileMode.Append : System.IO.FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.Read | FileShare.Delete,
            UnixCreateMode = FileMode,
        });
    }
}
