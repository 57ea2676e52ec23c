using System.Diagnostics;
using System.Globalization;
using System.IO.Pipes;
using System.Text;
using System.Text.Json;
using KataWorkflows.GuestAgent.Launch;
using KataWorkflows.GuestAgent.Native;

namespace KataWorkflows.GuestAgent.Containers;

/// <summary>
/// One process of a container: the busybox wrapper that made (<c>unshare</c>) or entered (<c>nsenter</c>) the
/// namespaces, the launcher it runs (see <see cref="ContainerInit"/>), and the program the launcher becomes. The
/// wrapper forks once for the PID namespace and passes the program's exit status (or its fatal signal) on, so the
/// wrapper's exit is the program's; signals go to the program's own PID, which the launcher reports.
/// </summary>
internal sealed class ContainerProcess : IDisposable
{
    private static long _launches;

    private readonly Process _wrapper;
    private readonly AnonymousPipeServerStream _status;
    private readonly StreamReader _statusReader;
    private readonly AnonymousPipeServerStream? _start;
    private readonly SemaphoreSlim _stdoutLock = new(1, 1);
    private readonly SemaphoreSlim _stderrLock = new(1, 1);
    private readonly Lock _stdinLock = new();
    private bool _stdinClosed;

    private ContainerProcess(string execId, Process wrapper, AnonymousPipeServerStream status, AnonymousPipeServerStream? start)
    {
        ExecId = execId;
        _wrapper = wrapper;
        _status = status;
        _statusReader = new StreamReader(status, Encoding.UTF8);
        _start = start;
        Exited = WaitAsync();
    }

    /// <summary>The exec id the runtime named the process by (the container's first process has one too).</summary>
    public string ExecId { get; }

    /// <summary>The program's PID as the guest sees it.</summary>
    public int Pid { get; private set; }

    /// <summary>Completes with the exit status once the process ended (128 + signal when a signal ended it).</summary>
    public Task<int> Exited { get; }

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => Exited.IsCompleted;

    /// <summary>
    /// Starts the wrapper and its launcher and waits until the launcher reports that the process is set up (its
    /// mounts, cgroup and identity checked), or throws with the launcher's error.
    /// </summary>
    public static async Task<ContainerProcess> LaunchAsync(
        string execId, LaunchSpec spec, string stateDirectory, int? enterPid, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(stateDirectory);
        var specPath = Path.Join(stateDirectory, $"process-{Interlocked.Increment(ref _launches)}.json");
        await File.WriteAllTextAsync(specPath, JsonSerializer.Serialize(spec, LaunchJsonContext.Default.LaunchSpec), cancellationToken)
            .ConfigureAwait(false);
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("the agent cannot find its own executable");

        // The pipes are not inherited: the launcher opens its ends through /proc/<agent>/fd/N. Inherited ends would
        // stay open in the busybox wrapper, which waits for the launcher's child, so the agent would never read
        // the end of file that tells it the exec succeeded.
        var status = new AnonymousPipeServerStream(PipeDirection.In, HandleInheritability.None);
        var start = enterPid is null ? new AnonymousPipeServerStream(PipeDirection.Out, HandleInheritability.None) : null;
        var statusPath = FdPath(status.GetClientHandleAsString());
        var info = new ProcessStartInfo("/bin/busybox")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment.Clear();
        string[] arguments = enterPid is { } pid
            ? ["nsenter", "-t", pid.ToString(CultureInfo.InvariantCulture), "-m", "-u", "-i", "-p", "--",
                self, ContainerInit.ExecMode, specPath, statusPath]
            : ["unshare", "-m", "-u", "-i", "-p", "-f", "--propagation", "private", "--",
                self, ContainerInit.InitMode, specPath, statusPath, FdPath(start!.GetClientHandleAsString())];
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        Process wrapper;
        try
        {
            wrapper = Process.Start(info) ?? throw new InvalidOperationException("busybox did not start");
        }
        catch
        {
            status.Dispose();
            start?.Dispose();
            throw;
        }
        var process = new ContainerProcess(execId, wrapper, status, start);

        try
        {
            var reading = process._statusReader.ReadLineAsync(cancellationToken).AsTask();
            // The launcher holds its end only once it opened it: a launcher that died before would leave the read
            // waiting on the agent's own copy, so its exit counts as the answer too.
            if (await Task.WhenAny(reading, process.Exited).ConfigureAwait(false) != reading)
            {
                // What it wrote before it exited is still in the pipe: with the agent's copy closed, the read
                // returns it, or end of file.
                status.DisposeLocalCopyOfClientHandle();
            }
            var line = await reading.ConfigureAwait(false);
            if (line is not null && line.StartsWith("ready ", StringComparison.Ordinal)
                && int.TryParse(line.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out var guestPid))
            {
                process.Pid = guestPid;
                // From here the launcher's own ends are the only ones: they close when it execs (close-on-exec).
                status.DisposeLocalCopyOfClientHandle();
                start?.DisposeLocalCopyOfClientHandle();
                if (enterPid is not null)
                {
                    await process.ReadExecResultAsync(cancellationToken).ConfigureAwait(false);
                }
                return process;
            }
            throw await process.LaunchFailureAsync(line).ConfigureAwait(false);
        }
        catch
        {
            process.Kill();
            process.Dispose();
            throw;
        }
    }

    /// <summary>Lets the container's first process exec its program (StartContainer), or throws why it could not.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_start is null)
        {
            throw new InvalidOperationException($"process {ExecId} is not a container's first process");
        }
        await _start.WriteAsync("s"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        await _start.FlushAsync(cancellationToken).ConfigureAwait(false);
        await _start.DisposeAsync().ConfigureAwait(false);
        await ReadExecResultAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The status pipe closes on a successful exec (close-on-exec); an error line says why it failed.</summary>
    private async Task ReadExecResultAsync(CancellationToken cancellationToken)
    {
        var line = await _statusReader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        if (line is not null)
        {
            throw await LaunchFailureAsync(line).ConfigureAwait(false);
        }
    }

    private async Task<Exception> LaunchFailureAsync(string? line)
    {
        if (line is not null && line.StartsWith("error ", StringComparison.Ordinal))
        {
            return new InvalidOperationException(line[6..]);
        }
        var status = await Exited.ConfigureAwait(false);
        var stderr = await new StreamReader(_wrapper.StandardError.BaseStream).ReadToEndAsync().ConfigureAwait(false);
        return new InvalidOperationException(
            $"the container launcher exited with status {status} before the process was set up: {stderr.Trim()}");
    }

    /// <summary>Sends a signal to the program; false when it has already exited.</summary>
    public bool Signal(int signal) => !HasExited && Pid > 0 && Libc.Kill(Pid, signal);

    /// <summary>Writes to the process's stdin; the number of bytes written.</summary>
    public async Task<int> WriteStdinAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        lock (_stdinLock)
        {
            if (_stdinClosed)
            {
                throw new InvalidOperationException($"the stdin of process {ExecId} is closed");
            }
        }
        var stdin = _wrapper.StandardInput.BaseStream;
        await stdin.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        await stdin.FlushAsync(cancellationToken).ConfigureAwait(false);
        return data.Length;
    }

    /// <summary>Closes the process's stdin (the program reads end of file).</summary>
    public void CloseStdin()
    {
        lock (_stdinLock)
        {
            if (!_stdinClosed)
            {
                _stdinClosed = true;
                _wrapper.StandardInput.Close();
            }
        }
    }

    /// <summary>Reads up to <paramref name="length"/> bytes of stdout or stderr; null at end of file.</summary>
    public async Task<byte[]?> ReadAsync(bool stdout, int length, CancellationToken cancellationToken)
    {
        var gate = stdout ? _stdoutLock : _stderrLock;
        var stream = stdout ? _wrapper.StandardOutput.BaseStream : _wrapper.StandardError.BaseStream;
        var buffer = new byte[Math.Clamp(length, 1, 1 << 20)];
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            return read == 0 ? null : buffer[..read];
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Kills the wrapper and, through the PID namespace, everything under it.</summary>
    public void Kill()
    {
        if (Pid > 0 && !HasExited)
        {
            Libc.Kill(Pid, 9);
        }
        try
        {
            if (!_wrapper.HasExited)
            {
                _wrapper.Kill();
            }
        }
        catch (InvalidOperationException)
        {
            // It exited in between.
        }
    }

    private static string FdPath(string fd) => $"/proc/{Environment.ProcessId}/fd/{fd}";

    private async Task<int> WaitAsync()
    {
        await _wrapper.WaitForExitAsync().ConfigureAwait(false);
        return _wrapper.ExitCode;
    }

    public void Dispose()
    {
        _statusReader.Dispose();
        _status.Dispose();
        _start?.Dispose();
        _stdoutLock.Dispose();
        _stderrLock.Dispose();
        _wrapper.Dispose();
    }
}
