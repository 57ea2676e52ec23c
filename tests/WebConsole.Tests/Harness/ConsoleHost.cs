using System.Text.Json;
using Grpc.Net.Client;
using KataWorkflows.Cli;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Host;
using KataWorkflows.Host.WebConsole;
using KataWorkflows.Protocol.V1;
using KataWorkflows.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.DurableTask.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using DurableTaskRegistry = Microsoft.DurableTask.DurableTaskRegistry;

namespace KataWorkflows.WebConsole.Tests.Harness;

/// <summary>
/// The real host in this process, on a temporary Unix socket and SQLite store, with the web console on a free loopback
/// port, the mock drivers, and fault rules that strike only the sandboxes named for them.
/// </summary>
public sealed class ConsoleHost : IAsyncDisposable
{
    /// <summary>createContainers fails for this sandbox: its create is compensated.</summary>
    public const string FailingSandbox = "sb-undo";

    /// <summary>startVM hangs for sandboxes whose id starts with this (until the run is terminated or the host stops).</summary>
    public const string HangingSandbox = "sb-hang";

    /// <summary>The orchestration a test may add that runs many activities (<see cref="StartAsync"/>'s <c>withLongRun</c>).</summary>
    public const string LongRun = "ConsoleLongRun";

    private readonly WebApplication _app;
    private readonly string _directory;

    private ConsoleHost(string directory, WebApplication app)
    {
        _directory = directory;
        _app = app;
        Channel = UnixSocketChannel.Create(SocketPath);
        Url = app.Services.GetRequiredService<WebConsoleServer>().Url ?? throw new InvalidOperationException("the web console is off");
    }

    /// <summary>The console's base URL.</summary>
    public Uri Url { get; }

    /// <summary>The host's Unix socket.</summary>
    public string SocketPath => Path.Combine(_directory, "kwf.sock");

    /// <summary>A channel over the socket.</summary>
    public GrpcChannel Channel { get; }

    /// <summary>The Sandboxes API.</summary>
    public Sandboxes.SandboxesClient Sandboxes => new(Channel);

    /// <summary>The sidecar API.</summary>
    public TaskHubSidecarService.TaskHubSidecarServiceClient Sidecar => new(Channel);

    /// <summary>The host's store.</summary>
    public IOrchestrationStore Store => _app.Services.GetRequiredService<IOrchestrationStore>();

    /// <summary>The console page of a run.</summary>
    public string RunPage(string instanceId) => new Uri(Url, WebConsoleServer.RunPath(instanceId)).AbsoluteUri;

    /// <summary>Starts a host; <paramref name="more"/> are extra <c>--KataWorkflows:Key=value</c> arguments.</summary>
    public static async Task<ConsoleHost> StartAsync(bool withLongRun = false, params string[] more)
    {
        var directory = Path.Combine("/tmp", "kwf-wc-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(directory);
        string[] args =
        [
            $"--KataWorkflows:StateDirectory={directory}/state",
            $"--KataWorkflows:RunRoot={directory}/run",
            $"--KataWorkflows:Listen:UnixSocket={directory}/kwf.sock",
            "--KataWorkflows:Worker:ShutdownTimeout=00:00:02",
            "--KataWorkflows:Logging:MinimumLevel=Warning",
            "--KataWorkflows:Store:Sqlite:Synchronous=normal",
            "--KataWorkflows:WebConsole:Port=0",
            $"--KataWorkflows:Faults:Spec=sandbox.createContainers:fail:0:before:sandbox={FailingSandbox},"
                + string.Join(',', Enumerable.Range(0, 4).Select(i => $"sandbox.startVM:hang:0:before:sandbox={HangingSandbox}-{i}")),
            .. more,
        ];
        var app = KataWorkflowsHost.Build(args);
        if (withLongRun)
        {
            // A run as long as a sandbox run never is: rounds of ten steps in parallel, each one an activity.
            app.Services.GetRequiredService<IOptionsMonitor<DurableTaskRegistry>>().Get(Options.DefaultName)
                .AddOrchestratorFunc<int, int>(LongRun, async (context, rounds) =>
                {
                    var done = 0;
                    for (var round = 0; round < rounds; round++)
                    {
                        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => context.CallActivityAsync<int>("ConsoleStep", i)));
                        done += results.Length;
                    }

                    return done;
                })
                .AddActivityFunc<int, int>("ConsoleStep", (_, i) => Task.FromResult(i));
        }

        try
        {
            await app.StartAsync(TestContext.Current.CancellationToken);
            return new ConsoleHost(directory, app);
        }
        catch
        {
            await app.DisposeAsync();
            Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    /// <summary>Runs a sandbox call through the Sandboxes API and returns the run's instance id (whether it succeeded or not).</summary>
    public async Task<string> CallAsync(string method, string sandboxId, object? arguments, bool wait = true)
    {
        var call = new SandboxCall
        {
            SandboxId = sandboxId,
            Wait = wait,
            ArgumentsJson = arguments is null ? string.Empty : JsonSerializer.Serialize(arguments),
        };
        var invoke = method switch
        {
            "CreateSandbox" => Sandboxes.CreateSandboxAsync(call).ResponseAsync,
            "RunSandbox" => Sandboxes.RunSandboxAsync(call).ResponseAsync,
            _ => throw new ArgumentException($"no such call in this harness: {method}", nameof(method)),
        };
        try
        {
            return (await invoke).InstanceId;
        }
        catch (Grpc.Core.RpcException ex) when (ex.Trailers.GetValueBytes("kwf-failure-bin") is { } bytes)
        {
            return CallFailure.Parser.ParseFrom(bytes).InstanceId;
        }
    }

    /// <summary>A sandbox configuration on the mock hypervisor, the noop agent and no network.</summary>
    public static object Create(string id, params string[] containers) => new
    {
        config = new
        {
            id,
            hypervisorType = "mock",
            agentType = "noop",
            hypervisorConfig = new { kernelPath = "/usr/share/kata/vmlinuz", imagePath = "/usr/share/kata/kata.img" },
            networkConfig = new { interworkingModel = "none" },
            containers = containers.Select(c => new { id = c, rootFs = $"/run/rootfs/{c}", cmd = new { args = new[] { "/bin/sh" } } }).ToArray(),
        },
    };

    /// <summary>Waits until a run's status is one of <paramref name="statuses"/>.</summary>
    public async Task<OrchestrationMetadata> WaitForStatusAsync(string instanceId, params OrchestrationRuntimeStatus[] statuses)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var change = Store.WaitForInstanceChangeAsync(instanceId, timeout.Token);
            if (await Store.GetInstanceAsync(instanceId, includePayloads: false, timeout.Token) is { } run && statuses.Contains(run.Status))
            {
                return run;
            }

            await change;
        }
    }

    /// <summary>Runs kwf in this process against the host's socket; returns its exit code, stdout and stderr.</summary>
    public async Task<(int Exit, string Out, string Err)> KwfAsync(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var app = new KwfApp(output, error, TextReader.Null, name => name == "KWF_SOCKET" ? SocketPath : environment?.GetValueOrDefault(name));
        var exit = await app.RunAsync(args, TestContext.Current.CancellationToken);
        return (exit, output.ToString(), error.ToString());
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by the stopping host is left to the temp cleaner.
        }
    }
}
