using KataWorkflows.Bench.Cli;
using KataWorkflows.Bench.Harness;
using KataWorkflows.Engine;

namespace KataWorkflows.Bench.Benchmarks;

/// <summary>
/// Workflow throughput and latency: clients in closed loops each schedule a workflow of four sequential no-op
/// activities and wait for its completion. With <c>--worker remote</c> the workflow runs on the official .NET gRPC
/// worker in another process, connected to the real host's sidecar service over a Unix socket.
/// </summary>
internal sealed class EngineBenchmark : IBenchmarkCommand
{
    /// <summary>The command name.</summary>
    public const string CommandName = "engine";

    /// <summary>The activities each workflow runs one after another.</summary>
    public const int ActivitiesPerWorkflow = FourSteps.ActivitiesPerWorkflow;

    private static readonly string[] Options = ["--count", "--concurrency", "--ids", "--worker", .. BenchWarmup.OptionNames, .. BenchStoreOptions.OptionNames];

    public string Name => CommandName;

    public string Summary => $"workflows of {ActivitiesPerWorkflow} sequential no-op activities: throughput and schedule→completion latency";

    public string Usage =>
        $"""
          --count N                  workflows measured (default 1000)
          --concurrency C            client loops, each scheduling a workflow and waiting for it (default 8)
        {BenchWarmup.Usage("workflows", 200)}
          --ids ordered|random       instance ids: the engine's own, time-ordered (default), or random UUIDv4
                                     ids given by the client, which scatter each workflow's rows over the indexes
          --worker in-process|remote the engine's own worker in this process (default), or the official .NET gRPC
                                     worker (Microsoft.DurableTask.Worker.Grpc) in another process, connected to the
                                     real host's sidecar service on a Unix socket; the clients stay in this process
        {BenchStoreOptions.Usage}
        """;

    public async Task<object> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var options = BenchArguments.Parse(CommandName, args, Options);
        var count = options.PositiveInt("--count", 1000);
        var concurrency = options.PositiveInt("--concurrency", 8);
        var warmup = BenchWarmup.From(options, Math.Min(200, count));
        var ids = options.Choice("--ids", "ordered", "ordered", "random");
        var store = BenchStoreOptions.From(options);
        var worker = options.Choice("--worker", "in-process", "in-process", "remote");

        EngineHost? local = null;
        RemoteWorkerHost? remote = null;
        if (worker == "remote")
        {
            if (!OperatingSystem.IsLinux())
            {
                throw new UsageException("--worker remote runs the real host, which runs on Linux only");
            }

            remote = await RemoteWorkerHost.StartAsync(store, concurrency, cancellationToken);
        }
        else
        {
            local = await EngineHost.StartAsync(store, FourSteps.Register(new Microsoft.DurableTask.DurableTaskRegistry()), concurrency, cancellationToken);
        }

        await using var disposeLocal = local;
        await using var disposeRemote = remote;
        var client = local?.Client ?? remote!.Client;
        Console.Error.WriteLine($"{CommandName}: store {local?.Description ?? remote!.Description}, {count} workflows from {concurrency} clients after {warmup}");

        async Task RunWorkflowAsync(int index, CancellationToken token)
        {
            try
            {
                await WorkflowRuns.RunAsync(client, FourSteps.OrchestrationName, index, token, instanceId: ids == "random" ? Guid.NewGuid().ToString("N") : null);
            }
            catch (OperationCanceledException ex) when (remote?.WorkerExitCode is { } code)
            {
                throw new BenchmarkFailedException($"the worker process exited with code {code}: {ex.Message}", ex);
            }
        }

        var warmedUp = await warmup.RunAsync("warm-up", concurrency, RunWorkflowAsync, cancellationToken);

        // The process's CPU time and the managed bytes allocated over the measured loop, per workflow: what the
        // engine costs per run, whatever else the machine is doing (the rate follows the load; these move less).
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var workerCpuBefore = remote?.WorkerCpu;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        var result = await ClosedLoop.RunAsync(CommandName, count, concurrency, RunWorkflowAsync, cancellationToken);
        var allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpuBefore;
        var workerCpu = remote?.WorkerCpu - workerCpuBefore;
        return new EngineResult
        {
            Store = store.StoreName,
            Synchronous = store.SynchronousName,
            Count = count,
            Concurrency = concurrency,
            Ids = ids,
            Worker = worker,
            WarmupOps = warmedUp.Completed,
            WarmupSec = Math.Round(warmedUp.Elapsed.TotalSeconds, 1),
            WorkflowsPerSec = Math.Round(result.PerSecond, 1),
            StepsPerSec = Math.Round(result.PerSecond * ActivitiesPerWorkflow, 1),
            P50Ms = Math.Round(result.Latency.P50, 2),
            P99Ms = Math.Round(result.Latency.P99, 2),
            MaxMs = Math.Round(result.Latency.Max, 2),
            ElapsedSec = Math.Round(result.Elapsed.TotalSeconds, 3),
            CpuUsPerWorkflow = Math.Round((cpu + (workerCpu ?? TimeSpan.Zero)).TotalMicroseconds / count, 1),
            WorkerCpuUsPerWorkflow = workerCpu is { } w ? Math.Round(w.TotalMicroseconds / count, 1) : null,
            AllocatedKbPerWorkflow = Math.Round(allocated / 1024.0 / count, 1),
        };
    }
}
