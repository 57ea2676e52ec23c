using KataWorkflows.TestSupport;

namespace KataWorkflows.RealSandbox.Tests.Harness;

/// <summary>
/// The built KataWorkflows.Host as a child process over a <see cref="RealSite"/>'s directories, with the real drivers
/// (QEMU under TCG, the Kata agent, tcfilter) as the defaults. <see cref="KillAsync"/> is SIGKILL of the host process
/// alone: its VMs outlive it, as they would a crash.
/// </summary>
public sealed class RealHost : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private RealHost(ChildProcess process, RealSite site)
    {
        _process = process;
        Site = site;
    }

    /// <summary>The site the host works in.</summary>
    public RealSite Site { get; }

    /// <summary>The host's process id.</summary>
    public int Pid => _process.Id;

    /// <summary>True once the host has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Its exit code (137 after a SIGKILL).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>What the host printed, for failure messages.</summary>
    public string Log => _process.Output;

    /// <summary>Starts a host with these fault rules (none when null) and waits until it answers, unless <paramref name="waitReady"/> is false.</summary>
    public static async Task<RealHost> StartAsync(RealSite site, string? faults = null, bool waitReady = true)
    {
        ArgumentNullException.ThrowIfNull(site);
        var start = ChildProcess.Dotnet(Artifacts.Host, []);
        start.WorkingDirectory = site.Directory;
        foreach (var (key, value) in site.HostSettings)
        {
            start.Environment[key] = value;
        }

        start.Environment["KataWorkflows__Faults__Spec"] = faults ?? string.Empty;
        start.Environment["DOTNET_ENVIRONMENT"] = "Development";
        start.Environment["DOTNET_TieredPGO"] = "0";
        start.Environment["DOTNET_gcServer"] = "0";
        var host = new RealHost(ChildProcess.Start(start), site);
        if (waitReady)
        {
            await host.WaitUntilReadyAsync();
        }

        return host;
    }

    /// <summary>Waits until kwf gets an answer on the socket.</summary>
    public async Task WaitUntilReadyAsync()
    {
        RunResult? last = null;
        await Run.UntilAsync<object>(
            async () =>
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"the host exited with {_process.ExitCode} before it answered\n{Log}");
                }

                if (!File.Exists(Site.Socket))
                {
                    return null;
                }

                last = await Site.KwfAsync("sandbox", "list");
                return last.Exit == 0 ? new object() : null;
            },
            TimeSpan.FromSeconds(90),
            $"the host answering on {Site.Socket} (last: {last})");
    }

    /// <summary>Waits for the host to end by itself (a kill fault) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan limit)
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        budget.CancelAfter(limit);
        try
        {
            await _process.WaitForExitAsync(budget.Token);
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"the host did not exit within {limit}\n{Run.Cut(Log)}");
        }

        return _process.ExitCode;
    }

    /// <summary>SIGKILL of the host process only (not its children): no shutdown, as in a crash.</summary>
    public Task KillAsync() => _process.KillAsync(TestContext.Current.CancellationToken, entireProcessTree: false);

    /// <summary>SIGTERM, and waits for the clean stop.</summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            await Run.CheckedAsync("kill", "-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }
}
