using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;

namespace KataWorkflows.Sandbox.Process.Tests;

/// <summary>
/// The sandbox crash host running as a child process (<c>dotnet KataWorkflows.Sandbox.CrashHost.dll ...</c>): its stdout
/// lines can be awaited, its stderr is kept for failure messages. Disposing kills it if it still runs.
/// </summary>
public sealed class HostProcess : IDisposable
{
    private readonly System.Diagnostics.Process _process;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _stderr = new();
    private readonly List<string> _lines = [];

    private HostProcess(System.Diagnostics.Process process)
    {
        _process = process;
    }

    /// <summary>The child's exit code (128 + the signal number when a signal ended it).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>What the child wrote to stdout and stderr so far, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_stderr)
            {
                return $"stdout:\n{string.Join('\n', _lines)}\nstderr:\n{_stderr}";
            }
        }
    }

    /// <summary>Starts the crash host with <paramref name="arguments"/>.</summary>
    public static HostProcess Start(IEnumerable<string> arguments)
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

        // Start-up is most of what a case costs; the host is small and short-lived.
        start.Environment["DOTNET_TieredPGO"] = "0";
        start.Environment["DOTNET_gcServer"] = "0";
        var process = new System.Diagnostics.Process { StartInfo = start, EnableRaisingEvents = true };
        var host = new HostProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                host._stdout.Writer.TryComplete();
                return;
            }

            lock (host._stderr)
            {
                host._lines.Add(e.Data);
            }

            host._stdout.Writer.TryWrite(e.Data);
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

    /// <summary>Waits for the child to exit and returns the stdout lines it printed.</summary>
    public async Task<IReadOnlyList<string>> WaitForExitAsync(CancellationToken cancellationToken)
    {
        var lines = new List<string>();
        await foreach (var line in _stdout.Reader.ReadAllAsync(cancellationToken))
        {
            lines.Add(line);
        }

        await _process.WaitForExitAsync(cancellationToken);
        return lines;
    }

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
    /// The crash host's assembly: <c>KATA_SANDBOX_CRASHHOST_DLL</c> when set, otherwise the path the build recorded in this
    /// assembly (the referenced project's own output).
    /// </summary>
    public static string CrashHostAssembly()
    {
        var path = Environment.GetEnvironmentVariable("KATA_SANDBOX_CRASHHOST_DLL")
            ?? typeof(HostProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "SandboxCrashHostAssembly")?.Value;
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
        {
            throw new FileNotFoundException(
                $"The sandbox crash host assembly was not found at '{path}'. Build tests/Sandbox.CrashHost (dotnet test builds it as a project reference) or set KATA_SANDBOX_CRASHHOST_DLL.",
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

        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var beside = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(beside) ? beside : "dotnet";
    }
}
