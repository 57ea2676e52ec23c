using Grpc.Core;
using Grpc.Net.Client;
using KataWorkflows.Protocol.V1;
using KataWorkflows.TestSupport;

namespace KataWorkflows.Chaos.Tests;

/// <summary>
/// One life of the real host (the built KataWorkflows.Host) over the soak's directory: the SQLite store in
/// <c>state/</c>, the run root in <c>run/</c>, the mock drivers' files in <c>drivers/</c>, the socket <c>kwf.sock</c>.
/// Every life uses the same directory, so a restarted host finds what the killed one left.
/// </summary>
internal sealed class SoakHost : IDisposable
{
    private const int SigKillExitCode = 128 + 9;

    private readonly ChildProcess _process;

    private SoakHost(ChildProcess process, SoakLayout layout)
    {
        _process = process;
        Layout = layout;
        Channel = UnixChannel(layout.Socket);
    }

    public SoakLayout Layout { get; }

    public GrpcChannel Channel { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Output => _process.Output;

    /// <summary>Starts a host with the fault rules <paramref name="faults"/> and waits until it answers a read.</summary>
    public static async Task<SoakHost> StartAsync(SoakLayout layout, string faults, CancellationToken cancellationToken)
    {
        var assembly = ChildProcess.BuiltAssembly(typeof(SoakHost).Assembly, "HostAssembly", "KATA_SOAK_HOST_ASSEMBLY", "src/Host");
        var start = ChildProcess.Dotnet(assembly, []);
        start.WorkingDirectory = layout.Root;
        start.Environment["KataWorkflows__StateDirectory"] = layout.State;
        start.Environment["KataWorkflows__RunRoot"] = layout.RunRoot;
        start.Environment["KataWorkflows__MockDrivers__StateDirectory"] = layout.Drivers;
        start.Environment["KataWorkflows__Listen__UnixSocket"] = layout.Socket;
        start.Environment["KataWorkflows__Faults__Spec"] = faults;
        start.Environment["KataWorkflows__Logging__MinimumLevel"] = "Warning";
        start.Environment["KataWorkflows__Worker__ShutdownTimeout"] = "00:00:02";
        start.Environment["DOTNET_ENVIRONMENT"] = "Development";
        start.Environment["DOTNET_TieredPGO"] = "0";
        start.Environment["DOTNET_gcServer"] = "0";
        var host = new SoakHost(ChildProcess.Start(start), layout);
        try
        {
            await host.WaitUntilReadyAsync(faults.Contains(":kill", StringComparison.OrdinalIgnoreCase), cancellationToken);
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>SIGKILL, as in a crash: no shutdown, no flush. Also fine when the host already died (a kill fault).</summary>
    public Task KillAsync(CancellationToken cancellationToken) => _process.KillAsync(cancellationToken, entireProcessTree: true);

    /// <summary>Completes when the host exits (by itself: a kill fault, or a crash).</summary>
    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>How many faults the host says it injected (its warning lines).</summary>
    public int FaultsInjected() => _process.Output.Split('\n').Count(l => l.Contains("Injected fault", StringComparison.Ordinal));

    public void Dispose()
    {
        Channel.Dispose();
        _process.Dispose();
    }

    private async Task WaitUntilReadyAsync(bool killFaults, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(90));
        var client = new Sandboxes.SandboxesClient(Channel);
        Exception? last = null;
        while (true)
        {
            if (_process.HasExited)
            {
                // A kill fault may strike in a run the new host resumes before it answers: a crash like any other.
                if (_process.ExitCode == SigKillExitCode && killFaults)
                {
                    return;
                }

                throw new InvalidOperationException($"the host exited with {_process.ExitCode} before it answered\n{Output}");
            }

            if (File.Exists(Layout.Socket))
            {
                try
                {
                    await client.ListSandboxAsync(new ListRequest(), deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: limit.Token);
                    return;
                }
                catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal)
                {
                    last = ex;
                }
            }

            try
            {
                // The host has no readiness signal on stdout at this log level; the socket answering is the signal.
                await Task.Delay(100, limit.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"the host did not answer on {Layout.Socket} within 90 s (last: {last?.Message})\n{Output}");
            }
        }
    }

    private static GrpcChannel UnixChannel(string socketPath) => UnixSocketChannel.Create(socketPath);
}

/// <summary>Where the soak keeps everything the hosts share.</summary>
internal sealed record SoakLayout(string Root)
{
    public string State => Path.Combine(Root, "state");

    public string Database => Path.Combine(State, "store.db");

    public string RunRoot => Path.Combine(Root, "run");

    public string Drivers => Path.Combine(Root, "drivers");

    public string Socket => Path.Combine(Root, "kwf.sock");

    public static SoakLayout Create() => new(Directory.CreateTempSubdirectory("kwf-soak-").FullName);
}
