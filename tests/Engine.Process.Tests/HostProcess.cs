using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;

namespace KataWorkflows.Engine.Process.Tests;

/// <summary>
/// A crash host running as a child process (<c>dotnet KataWorkflows.Engine.CrashHost.dll ...</c>): its stdout lines can
/// be awaited, its stderr is kept for failure messages, and it can be killed with SIGKILL. Disposing kills it if it
/// still runs.
/// </summary>
public sealed class HostProcess : IDisposable
{
    private readonly System.Diagnostics.Process _process;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _stderr = new();

    private HostProcess(System.Diagnostics.Process process)
    {
        _process = process;
    }

    /// <summary>The child's process id.</summary>
    public int Id => _process.Id;

    /// <summary>True once the child has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The child's exit code (128 + the signal number when a signal ended it).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>What the child wrote to stderr so far.</summary>
    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Starts the crash host with <paramref name="arguments"/>.</summary>
    public static HostProcess Start(params string[] arguments)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(CrashHostAssembly());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = new System.Diagnostics.Process { StartInfo = start, EnableRaisingEvents = true };
        var host = new HostProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                host._stdout.Writer.TryComplete();
            }
            else
            {
                host._stdout.Writer.TryWrite(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (host._stderr)
                {
                    host._stderr.AppendLine(e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Waits for a stdout line that <paramref name="match"/> accepts and returns it.</summary>
    /// <exception cref="InvalidOperationException">The child closed stdout (exited) first.</exception>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, CancellationToken cancellationToken)
    {
        await foreach (var line in _stdout.Reader.ReadAllAsync(cancellationToken))
        {
            if (match(line))
            {
                return line;
            }
        }

        await _process.WaitForExitAsync(cancellationToken);
        throw new InvalidOperationException($"The crash host (pid {Id}) exited with {ExitCode} before printing the expected line. Its stderr:\n{Stderr}");
    }

    /// <summary>Sends SIGKILL (what <see cref="System.Diagnostics.Process.Kill()"/> does on Unix) and waits for the exit.</summary>
    public async Task KillAsync(CancellationToken cancellationToken)
    {
        _process.Kill();
        await _process.WaitForExitAsync(cancellationToken);
    }

    /// <summary>Waits for the child to exit by itself.</summary>
    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Never started, or already reaped.
        }

        _process.Dispose();
    }

    /// <summary>
    /// The crash host's assembly: <c>KATA_CRASHHOST_DLL</c> when set, otherwise the path the build recorded in this
    /// assembly (the referenced project's own output).
    /// </summary>
    public static string CrashHostAssembly()
    {
        var path = Environment.GetEnvironmentVariable("KATA_CRASHHOST_DLL")
            ?? typeof(HostProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "CrashHostAssembly")?.Value;
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
        {
            throw new FileNotFoundException(
                $"The crash host assembly was not found at '{path}'. Build tests/Engine.CrashHost (dotnet test builds it as a project reference) or set KATA_CRASHHOST_DLL.",
                path);
        }

        return path;
    }

    /// <summary>The dotnet host that runs this process: DOTNET_HOST_PATH, the one above the running runtime, or dotnet on PATH.</summary>
    private static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        // The runtime lives in <root>/shared/Microsoft.NETCore.App/<version>/; the host is <root>/dotnet.
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var beside = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(beside) ? beside : "dotnet";
    }
}
