using System.Net.Sockets;
using System.Text;
using Grpc.Net.Client;
using KataWorkflows.TestSupport;

namespace KataWorkflows.Host.Fuzz.Tests.Harness;

/// <summary>
/// The real host (the built KataWorkflows.Host) as a child process on a temporary Unix socket, SQLite in a temporary
/// state directory, mock drivers chosen by the sandboxes' configs. Ready when it sends READY=1 to the notify socket it
/// is given (what systemd would see). Disposing kills it and removes the directory.
/// </summary>
internal sealed class FuzzHost : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private FuzzHost(string directory, ChildProcess process)
    {
        Directory = directory;
        _process = process;
        Channel = UnixChannel(Socket);
        Raw = new RawCaller(Channel);
    }

    public string Directory { get; }

    public string Socket => Path.Combine(Directory, "kwf.sock");

    public GrpcChannel Channel { get; }

    public RawCaller Raw { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>What the host printed so far (its warnings and errors).</summary>
    public string Log => _process.Output;

    public static string HostAssembly =>
        ChildProcess.BuiltAssembly(typeof(FuzzHost).Assembly, "HostAssembly", "KATA_HOST_DLL", "src/Host");

    /// <summary>Starts a host; <paramref name="settings"/> are extra <c>KataWorkflows:Key=value</c> settings.</summary>
    public static async Task<FuzzHost> StartAsync(CancellationToken cancellationToken, params string[] settings)
    {
        // Short: Unix socket paths are limited to 107 bytes.
        var directory = Path.Combine("/tmp", "kwf-fz-" + Guid.NewGuid().ToString("N")[..10]);
        System.IO.Directory.CreateDirectory(directory);
        var notifyPath = Path.Combine(directory, "notify.sock");
        using var notify = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(notifyPath));

        var start = ChildProcess.Dotnet(HostAssembly,
        [
            $"--KataWorkflows:StateDirectory={directory}/state",
            $"--KataWorkflows:RunRoot={directory}/run",
            $"--KataWorkflows:Listen:UnixSocket={directory}/kwf.sock",
            "--KataWorkflows:Worker:ShutdownTimeout=00:00:02",
            "--KataWorkflows:Logging:MinimumLevel=Warning",
            .. settings.Select(s => "--KataWorkflows:" + s),
        ]);
        start.Environment["NOTIFY_SOCKET"] = notifyPath;
        start.Environment["DOTNET_gcServer"] = "0";
        var process = ChildProcess.Start(start);
        var host = new FuzzHost(directory, process);
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(TimeSpan.FromSeconds(90));
            var buffer = new byte[256];
            var ready = notify.ReceiveAsync(buffer, SocketFlags.None, limit.Token).AsTask();
            var exited = process.WaitForExitAsync(limit.Token);
            if (await Task.WhenAny(ready, exited) != ready || !ready.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException(process.HasExited
                    ? $"the host exited with {process.ExitCode} before it was ready\n{process.Output}"
                    : $"the host was not ready within 90 s\n{process.Output}");
            }

            var line = Encoding.UTF8.GetString(buffer, 0, await ready);
            if (line != "READY=1")
            {
                throw new InvalidOperationException($"the host sent '{line}' instead of READY=1\n{process.Output}");
            }

            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The host's own health service (<c>grpc.health.v1.Health/Check</c>, which also asks the store) answers SERVING;
    /// the reason it does not otherwise, for a failure message.
    /// </summary>
    public async Task<string?> CheckHealthAsync(CancellationToken cancellationToken)
    {
        if (_process.HasExited)
        {
            return $"the host process exited with {_process.ExitCode}";
        }

        var outcome = await Raw.CallAsync(RawCaller.HealthCheck, [], TimeSpan.FromSeconds(10), cancellationToken);
        if (outcome.Status != Grpc.Core.StatusCode.OK)
        {
            return $"health check answered {outcome.Status}: {outcome.Detail}";
        }

        // HealthCheckResponse { ServingStatus status = 1; } with SERVING = 1.
        var body = outcome.Response ?? [];
        return body is [0x08, 0x01] ? null : $"health check answered {Convert.ToHexString(body)}, not SERVING";
    }

    public static GrpcChannel UnixChannel(string socketPath) => UnixSocketChannel.Create(socketPath);

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _process.KillAsync(CancellationToken.None, entireProcessTree: true);
        _process.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by the killed host is left to the temp cleaner.
        }
    }
}
