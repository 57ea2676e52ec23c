using Grpc.Net.Client;
using KataWorkflows.Host.Configuration;
using KataWorkflows.Protocol.V1;
using KataWorkflows.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Host.Tests.Harness;

/// <summary>
/// The real host, in this process, on a temporary Unix socket with a temporary state directory and SQLite store; a gRPC
/// channel over the socket. Disposing stops the host and removes the directory.
/// </summary>
public sealed class TestHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestHost(TempDir dir, WebApplication app)
    {
        Dir = dir;
        _app = app;
        Channel = UnixChannel(SocketPath);
    }

    /// <summary>The temporary directory (state, run root, socket).</summary>
    public TempDir Dir { get; }

    /// <summary>The Unix socket.</summary>
    public string SocketPath => Path.Combine(Dir.Path, "sock", "kwf.sock");

    /// <summary>A channel over the Unix socket.</summary>
    public GrpcChannel Channel { get; }

    /// <summary>The Sandboxes client.</summary>
    public Sandboxes.SandboxesClient Sandboxes => new(Channel);

    /// <summary>The sidecar client.</summary>
    public TaskHubSidecarService.TaskHubSidecarServiceClient Sidecar => new(Channel);

    /// <summary>The host's services.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>A token that ends the test after a minute.</summary>
    public CancellationToken Token { get; } = new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    /// <summary>The arguments every test host gets, for a directory.</summary>
    public static List<string> Arguments(TempDir dir, params string[] more) =>
    [
        $"--KataWorkflows:StateDirectory={dir.Path}/state",
        $"--KataWorkflows:RunRoot={dir.Path}/run",
        $"--KataWorkflows:Listen:UnixSocket={dir.Path}/sock/kwf.sock",
        "--KataWorkflows:Worker:ShutdownTimeout=00:00:02",
        "--KataWorkflows:Logging:MinimumLevel=Warning",
        .. more,
    ];

    /// <summary>Builds and starts a host; <paramref name="more"/> are extra <c>--KataWorkflows:Key=value</c> arguments.</summary>
    public static async Task<TestHost> StartAsync(params string[] more)
    {
        var dir = TempDir.Create();
        try
        {
            var app = KataWorkflowsHost.Build([.. Arguments(dir, more)]);
            await app.StartAsync(TestContext.Current.CancellationToken);
            return new TestHost(dir, app);
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    /// <summary>The addresses Kestrel bound (the TCP port when 0 was asked for).</summary>
    public IReadOnlyCollection<string> Addresses =>
        [.. _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses];

    /// <summary>A channel to a Unix socket.</summary>
    public static GrpcChannel UnixChannel(string socketPath) => UnixSocketChannel.Create(socketPath);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        Dir.Dispose();
    }
}

/// <summary>A short temporary directory (Unix socket paths are limited to 107 bytes).</summary>
public sealed class TempDir : IDisposable
{
    private TempDir(string path) => Path = path;

    /// <summary>The directory.</summary>
    public string Path { get; }

    /// <summary>Creates one under /tmp.</summary>
    public static TempDir Create()
    {
        var path = System.IO.Path.Combine("/tmp", "kwf-t-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(path);
        return new TempDir(path);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a file still open by a stopping host is left behind in /tmp.
        }
    }
}
