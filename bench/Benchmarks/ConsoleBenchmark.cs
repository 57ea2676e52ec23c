using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using Grpc.Net.Client;
using KataWorkflows.Bench.Cli;
using KataWorkflows.Bench.Harness;
using KataWorkflows.Host;
using KataWorkflows.Host.WebConsole;
using KataWorkflows.Protocol.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace KataWorkflows.Bench.Benchmarks;

/// <summary>
/// The web console over a big store: the real host (SQLite) is filled with sandbox runs through its gRPC API (creates,
/// deletes, and some compensated creates), then every console page and JSON endpoint is asked in turn, one request at a
/// time, and timed from the request to the last byte of the answer.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class ConsoleBenchmark : IBenchmarkCommand
{
    /// <summary>The command name.</summary>
    public const string CommandName = "console";

    /// <summary>What each page must answer within.</summary>
    public const double TargetMs = 100;

    private const string FailingPrefix = "sb-undo-";
    private const int FailingSandboxes = 20;

    private static readonly string[] Options = ["--runs", "--requests", "--concurrency", "--keep"];

    public string Name => CommandName;

    public string Summary => "the web console's pages and JSON over a SQLite store of N sandbox runs (default 10,000)";

    public string Usage =>
        """
          --runs N          runs in the store (default 10000): sandboxes created and deleted, 20 of them compensated
          --requests R      requests per page, after 10 unmeasured ones (default 100)
          --concurrency C   clients filling the store (default 32)
          --keep S          sandboxes left alive for the sandboxes page (default 200)
        """;

    public async Task<object> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var options = BenchArguments.Parse(CommandName, args, Options);
        var runs = options.PositiveInt("--runs", 10_000);
        var requests = options.PositiveInt("--requests", 100);
        var concurrency = options.PositiveInt("--concurrency", 32);
        var keep = options.NonNegativeInt("--keep", 200);
        options.RejectUnless("--runs", runs >= 2 * FailingSandboxes + keep, $"must be at least {2 * FailingSandboxes + keep} (the compensated and kept sandboxes)");

        var directory = Directory.CreateTempSubdirectory("kwf-bench-console-").FullName;
        try
        {
            var faults = string.Join(',', Enumerable.Range(0, FailingSandboxes).Select(i => $"sandbox.createContainers:fail:0:before:sandbox={FailingPrefix}{i}"));
            await using var app = KataWorkflowsHost.Build(
            [
                $"--KataWorkflows:StateDirectory={directory}/state",
                $"--KataWorkflows:RunRoot={directory}/run",
                $"--KataWorkflows:Listen:UnixSocket={directory}/kwf.sock",
                "--KataWorkflows:Store:Sqlite:Synchronous=normal",
                "--KataWorkflows:WebConsole:Port=0",
                // The JSON line is the only thing on stdout: the host's console log keeps quiet.
                "--KataWorkflows:Logging:MinimumLevel=Fatal",
                $"--KataWorkflows:Faults:Spec={faults}",
            ]);
            await app.StartAsync(cancellationToken);
            try
            {
                using var channel = UnixChannel(Path.Combine(directory, "kwf.sock"));
                var fill = Stopwatch.StartNew();
                var sample = await FillAsync(new Sandboxes.SandboxesClient(channel), runs, keep, concurrency, cancellationToken);
                fill.Stop();
                Console.Error.WriteLine($"{CommandName}: {runs} runs in {fill.Elapsed.TotalSeconds:0.0} s; measuring {requests} requests per page");

                var url = app.Services.GetRequiredService<WebConsoleServer>().Url!;
                using var http = new HttpClient { BaseAddress = url };
                var deepToken = await DeepPageTokenAsync(http, 100, cancellationToken);
                var id = Uri.EscapeDataString(sample.Compensated);
                string[] paths =
                [
                    "/runs", "/api/runs", "/api/runs?status=Failed", "/api/runs?status=Completed&size=100",
                    $"/api/runs?sandbox={sample.Sandbox}", "/api/runs?name=DeleteSandbox", $"/api/runs?page={Uri.EscapeDataString(deepToken)}",
                    $"/api/runs?from={DateTime.UtcNow.AddMinutes(-1):o}", $"/run?id={id}", $"/api/run?id={id}", $"/api/history?id={id}",
                    $"/api/export?id={id}", $"/api/replay?id={id}", "/sandboxes", "/api/sandboxes", "/assets/app.js",
                ];
                var pages = new List<ConsolePageResult>();
                foreach (var path in paths)
                {
                    pages.Add(await MeasureAsync(http, path, requests, cancellationToken));
                    Console.Error.WriteLine($"  {pages[^1].P99Ms,7:0.00} ms p99  {path}");
                }

                return new ConsoleResult
                {
                    Benchmark = CommandName,
                    Store = "sqlite",
                    Runs = runs,
                    Sandboxes = keep,
                    FillSeconds = Math.Round(fill.Elapsed.TotalSeconds, 1),
                    Requests = requests,
                    TargetMs = TargetMs,
                    SlowestP99Ms = pages.Max(p => p.P99Ms),
                    MeetsTarget = pages.All(p => p.P99Ms <= TargetMs),
                    Pages = pages,
                };
            }
            finally
            {
                await app.StopAsync(CancellationToken.None);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// Fills the store: each client creates and deletes its sandboxes one after another (two runs each), the failing
    /// sandboxes' creates are compensated (one run each), and the last <paramref name="keep"/> are created only.
    /// </summary>
    private static async Task<(string Compensated, string Sandbox)> FillAsync(
        Sandboxes.SandboxesClient sandboxes, int runs, int keep, int concurrency, CancellationToken cancellationToken)
    {
        var pairs = (runs - FailingSandboxes - keep) / 2;
        var single = runs - (2 * pairs) - FailingSandboxes;
        var work = Enumerable.Range(0, pairs).Select(i => (Id: $"sb-{i}", Delete: true))
            .Concat(Enumerable.Range(0, FailingSandboxes).Select(i => (Id: $"{FailingPrefix}{i}", Delete: false)))
            .Concat(Enumerable.Range(0, single).Select(i => (Id: $"sb-kept-{i}", Delete: false)))
            .ToList();
        var compensated = new string?[FailingSandboxes];
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken }, async (item, ct) =>
        {
            var create = await CallAsync(sandboxes.CreateSandboxAsync, item.Id, CreateArguments(item.Id), ct);
            if (item.Id.StartsWith(FailingPrefix, StringComparison.Ordinal))
            {
                compensated[int.Parse(item.Id[FailingPrefix.Length..], System.Globalization.CultureInfo.InvariantCulture)] = create;
            }
            else if (item.Delete)
            {
                await CallAsync(sandboxes.DeleteSandboxAsync, item.Id, null, ct);
            }
        });
        return (compensated[0] ?? throw new BenchmarkFailedException("the compensated create made no run"), $"sb-{pairs / 2}");
    }

    private static async Task<string> CallAsync(
        Func<SandboxCall, Grpc.Core.Metadata?, DateTime?, CancellationToken, Grpc.Core.AsyncUnaryCall<CallResult>> method,
        string sandboxId, object? arguments, CancellationToken cancellationToken)
    {
        var call = new SandboxCall { SandboxId = sandboxId, Wait = true, ArgumentsJson = arguments is null ? string.Empty : JsonSerializer.Serialize(arguments) };
        try
        {
            return (await method(call, null, null, cancellationToken)).InstanceId;
        }
        catch (Grpc.Core.RpcException ex) when (ex.Trailers.GetValueBytes("kwf-failure-bin") is { } bytes && sandboxId.StartsWith(FailingPrefix, StringComparison.Ordinal))
        {
            return CallFailure.Parser.ParseFrom(bytes).InstanceId;
        }
    }

    private static object CreateArguments(string id) => new
    {
        config = new
        {
            id,
            hypervisorType = "mock",
            agentType = "noop",
            hypervisorConfig = new { kernelPath = "/usr/share/kata/vmlinuz", imagePath = "/usr/share/kata/kata.img" },
            networkConfig = new { interworkingModel = "none" },
            containers = new[] { new { id = "c1", rootFs = "/run/rootfs/c1", cmd = new { args = new[] { "/bin/sh" } } } },
        },
    };

    private static async Task<string> DeepPageTokenAsync(HttpClient http, int page, CancellationToken cancellationToken)
    {
        string? token = null;
        for (var i = 1; i < page; i++)
        {
            using var document = JsonDocument.Parse(await http.GetStringAsync($"/api/runs?size=50{(token is null ? "" : "&page=" + Uri.EscapeDataString(token))}", cancellationToken));
            token = document.RootElement.GetProperty("next").GetString() ?? throw new BenchmarkFailedException($"the runs end before page {page}");
        }

        return token!;
    }

    private static async Task<ConsolePageResult> MeasureAsync(HttpClient http, string path, int requests, CancellationToken cancellationToken)
    {
        var times = new List<double>(requests);
        long bytes = 0;
        for (var i = -10; i < requests; i++)
        {
            var watch = Stopwatch.StartNew();
            using var response = await http.GetAsync(path, HttpCompletionOption.ResponseContentRead, cancellationToken);
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            watch.Stop();
            if (!response.IsSuccessStatusCode)
            {
                throw new BenchmarkFailedException($"{path} answered {(int)response.StatusCode}: {System.Text.Encoding.UTF8.GetString(body)}");
            }

            if (i >= 0)
            {
                times.Add(watch.Elapsed.TotalMilliseconds);
                bytes = body.Length;
            }
        }

        var stats = new LatencyStats(times);
        return new ConsolePageResult
        {
            Path = path.Length > 80 ? path[..80] + "…" : path,
            P50Ms = Math.Round(stats.P50, 2),
            P99Ms = Math.Round(stats.P99, 2),
            MaxMs = Math.Round(stats.Max, 2),
            Bytes = bytes,
        };
    }

    private static GrpcChannel UnixChannel(string socketPath) =>
        GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, ct) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    try
                    {
                        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
            },
        });
}

/// <summary>The console benchmark's JSON line.</summary>
internal sealed record ConsoleResult
{
    public required string Benchmark { get; init; }

    public required string Store { get; init; }

    public required int Runs { get; init; }

    public required int Sandboxes { get; init; }

    public required double FillSeconds { get; init; }

    public required int Requests { get; init; }

    public required double TargetMs { get; init; }

    public required double SlowestP99Ms { get; init; }

    public required bool MeetsTarget { get; init; }

    public required IReadOnlyList<ConsolePageResult> Pages { get; init; }
}

/// <summary>One page's latencies, from the request to the answer's last byte.</summary>
internal sealed record ConsolePageResult
{
    public required string Path { get; init; }

    public required double P50Ms { get; init; }

    public required double P99Ms { get; init; }

    public required double MaxMs { get; init; }

    public required long Bytes { get; init; }
}
