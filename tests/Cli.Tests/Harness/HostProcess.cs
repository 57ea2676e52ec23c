using System.Diagnostics;
using KataWorkflows.TestSupport;

namespace KataWorkflows.Cli.Tests.Harness;

/// <summary>
/// The real host (the built KataWorkflows.Host) as a child process: a temporary Unix socket, SQLite in a temporary state
/// directory, mock drivers chosen by the sandboxes' configs, optional fault rules. <see cref="Kill"/> is SIGKILL.
/// </summary>
internal sealed class HostProcess : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private HostProcess(ChildProcess process, string socket)
    {
        _process = process;
        Socket = socket;
    }

    public string Socket { get; }

    public bool HasExited => _process.HasExited;

    public string Log => _process.Output;

    /// <summary>Starts a host over <paramref name="directory"/> (state, run root and socket inside it) and waits until it answers.</summary>
    public static async Task<HostProcess> StartAsync(string directory, string? faults = null, IReadOnlyDictionary<string, string>? settings = null)
    {
        var socket = Path.Combine(directory, "kwf.sock");
        var start = new ProcessStartInfo(Artifacts.Dotnet) { WorkingDirectory = directory };
        start.ArgumentList.Add(Artifacts.Host);
        start.Environment["KataWorkflows__StateDirectory"] = Path.Combine(directory, "state");
        start.Environment["KataWorkflows__RunRoot"] = Path.Combine(directory, "run");
        start.Environment["KataWorkflows__Listen__UnixSocket"] = socket;
        start.Environment["KataWorkflows__Faults__Spec"] = faults ?? string.Empty;
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        start.Environment["DOTNET_ENVIRONMENT"] = "Development";
        start.Environment["DOTNET_TieredPGO"] = "0";
        start.Environment["DOTNET_gcServer"] = "0";
        var host = new HostProcess(ChildProcess.Start(start), socket);
        await host.WaitUntilReadyAsync();
        return host;
    }

    /// <summary>SIGKILL: no shutdown, no flush, as in a crash.</summary>
    public Task KillAsync() => _process.KillAsync(TestContext.Current.CancellationToken, entireProcessTree: true);

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    private async Task WaitUntilReadyAsync()
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(90));
        KwfResult? last = null;
        while (!limit.IsCancellationRequested)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the host exited with {_process.ExitCode} before it answered\n{Log}");
            }

            if (File.Exists(Socket))
            {
                last = await KwfProcess.RunAsync(Socket, "sandbox", "list");
                if (last.Exit == ExitCodes.Ok)
                {
                    return;
                }
            }

            await Task.Delay(100, limit.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        throw new TimeoutException($"the host did not answer on {Socket} within 90 s\nlast kwf: {last}\nhost log:\n{Log}");
    }
}
