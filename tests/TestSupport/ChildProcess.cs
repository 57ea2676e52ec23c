using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;

namespace KataWorkflows.TestSupport;

/// <summary>
/// A child process a test starts: its stdout lines can be awaited, stdout and stderr are kept for failure messages,
/// and it can be killed with SIGKILL. Disposing kills it if it still runs.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    private readonly Lock _sync = new();
    private readonly StringBuilder _stdoutText = new();
    private readonly StringBuilder _stderrText = new();

    private ChildProcess(Process process)
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
            lock (_sync)
            {
                return _stderrText.ToString();
            }
        }
    }

    /// <summary>What the child wrote to stdout and stderr so far, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_sync)
            {
                return $"stdout:\n{_stdoutText}stderr:\n{_stderrText}";
            }
        }
    }

    /// <summary>
    /// A start for <c>dotnet <paramref name="assembly"/> <paramref name="arguments"/></c> on the dotnet host that runs
    /// this process, with stdin redirected so the child never reads the test's.
    /// </summary>
    public static ProcessStartInfo Dotnet(string assembly, IEnumerable<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var start = new ProcessStartInfo(DotnetHost()) { RedirectStandardInput = true };
        start.ArgumentList.Add(assembly);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    /// <summary>Starts <paramref name="start"/> with stdout and stderr redirected and captured.</summary>
    public static ChildProcess Start(ProcessStartInfo start)
    {
        ArgumentNullException.ThrowIfNull(start);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var child = new ChildProcess(process);
        process.OutputDataReceived += (_, e) => child.OnStdout(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnStderr(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Waits for a stdout line that <paramref name="match"/> accepts and returns it.</summary>
    /// <exception cref="InvalidOperationException">The child closed stdout (exited) first.</exception>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(match);
        await foreach (var line in _stdout.Reader.ReadAllAsync(cancellationToken))
        {
            if (match(line))
            {
                return line;
            }
        }

        await _process.WaitForExitAsync(cancellationToken);
        throw new InvalidOperationException($"The child process (pid {Id}) exited with {ExitCode} before printing the expected line.\n{Output}");
    }

    /// <summary>Waits for the child to exit by itself and returns the stdout lines it printed that no wait has read.</summary>
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

    /// <summary>
    /// Sends SIGKILL (what <see cref="Process.Kill(bool)"/> does on Unix), to the children the child started too when
    /// <paramref name="entireProcessTree"/>, and waits for the exit. Does nothing to a child that has exited.
    /// </summary>
    public async Task KillAsync(CancellationToken cancellationToken, bool entireProcessTree = false)
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree);
        }

        await _process.WaitForExitAsync(cancellationToken);
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
    /// The path of a build the test project recorded in <paramref name="testAssembly"/> as an
    /// <see cref="AssemblyMetadataAttribute"/> named <paramref name="key"/>, unless the environment variable
    /// <paramref name="overrideVariable"/> names another.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file; the message says to build <paramref name="project"/> or set the variable.</exception>
    public static string BuiltAssembly(Assembly testAssembly, string key, string overrideVariable, string project)
    {
        ArgumentNullException.ThrowIfNull(testAssembly);
        var path = Environment.GetEnvironmentVariable(overrideVariable)
            ?? testAssembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value;
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
        {
            throw new FileNotFoundException(
                $"The assembly of {project} was not found at '{path}'. Build {project} (dotnet test builds it as a project reference) or set {overrideVariable}.",
                path);
        }

        return path;
    }

    /// <summary>The dotnet host that runs this process: DOTNET_HOST_PATH, the one above the running runtime, or dotnet on PATH.</summary>
    public static string DotnetHost()
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

    private void OnStdout(string? line)
    {
        if (line is null)
        {
            _stdout.Writer.TryComplete();
            return;
        }

        lock (_sync)
        {
            _stdoutText.Append(line).Append('\n');
        }

        _stdout.Writer.TryWrite(line);
    }

    private void OnStderr(string? line)
    {
        if (line is not null)
        {
            lock (_sync)
            {
                _stderrText.Append(line).Append('\n');
            }
        }
    }
}
