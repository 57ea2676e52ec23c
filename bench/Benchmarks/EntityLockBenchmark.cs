using KataWorkflows.Bench.Cli;
using KataWorkflows.Bench.Harness;
using KataWorkflows.Engine;

namespace KataWorkflows.Bench.Benchmarks;

/// <summary>
/// Entity critical sections. Phase one: one client runs lock-and-release-only orchestrations one after another, timing
/// each from schedule to completion (orchestration time is deterministic, so the lock grant itself cannot be timed
/// from inside). Phase two: clients in closed loops run orchestrations that lock the same counter entity, add one to
/// it and release it; the counter must end equal to the number of critical sections.
/// </summary>
internal sealed class EntityLockBenchmark : IBenchmarkCommand
{
    /// <summary>The command name.</summary>
    public const string CommandName = "entity-lock";

    private const string LockOnlyName = "bench-lock-release";
    private const string CriticalSectionName = "bench-critical-section";

    private static readonly string[] Options = ["--count", "--concurrency", .. BenchWarmup.OptionNames, .. BenchStoreOptions.OptionNames];

    public string Name => CommandName;

    public string Summary => "entity locks: lock+release latency (one client) and contended critical sections per second";

    public string Usage =>
        $"""
          --count N                  orchestrations per phase (default 1000)
          --concurrency C            client loops contending for one entity in the critical-section phase (default 8)
        {BenchWarmup.Usage("orchestrations per phase", 200)}
        {BenchStoreOptions.Usage}
        """;

    public async Task<object> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var options = BenchArguments.Parse(CommandName, args, Options);
        var count = options.PositiveInt("--count", 1000);
        var concurrency = options.PositiveInt("--concurrency", 8);
        var warmup = BenchWarmup.From(options, Math.Min(200, count));
        var store = BenchStoreOptions.From(options);

        var registry = new Microsoft.DurableTask.DurableTaskRegistry();
        registry.AddEntity<CounterEntity>(CounterEntity.EntityName);
        registry.AddOrchestratorFunc<string, bool>(LockOnlyName, async (context, key) =>
        {
            var held = await context.Entities.LockEntitiesAsync(new Microsoft.DurableTask.Entities.EntityInstanceId(CounterEntity.EntityName, key));
            await held.DisposeAsync();
            return true;
        });
        registry.AddOrchestratorFunc<string, int>(CriticalSectionName, async (context, key) =>
        {
            var counter = new Microsoft.DurableTask.Entities.EntityInstanceId(CounterEntity.EntityName, key);
            await using (await context.Entities.LockEntitiesAsync(counter))
            {
                return await context.Entities.CallEntityAsync<int>(counter, "add", 1);
            }
        });

        await using var host = await EngineHost.StartAsync(store, registry, concurrency, cancellationToken);
        Console.Error.WriteLine(
            $"{CommandName}: store {host.Description}, {count} lock+release (1 client) then {count} critical sections from {concurrency} clients, after {warmup} each");

        Func<int, CancellationToken, Task> Run(string orchestration, string key) => (_, token) =>
            WorkflowRuns.RunAsync(host.Client, orchestration, key, token, new EntityInstanceId(CounterEntity.EntityName, key));

        var warmedUpLock = await warmup.RunAsync("warm-up lock", 1, Run(LockOnlyName, "warmup"), cancellationToken);

        var lockOnly = await ClosedLoop.RunAsync("lock+release", count, 1, Run(LockOnlyName, "latency"), cancellationToken);

        var warmedUpSections = await warmup.RunAsync("warm-up critical sections", concurrency, Run(CriticalSectionName, "warmup"), cancellationToken);

        var sections = await ClosedLoop.RunAsync("critical sections", count, concurrency, Run(CriticalSectionName, "shared"), cancellationToken);

        // Mutual exclusion is part of what is measured: a lost update means the numbers are meaningless.
        var counter = await host.Client.Entities.GetEntityRecordAsync(new EntityInstanceId(CounterEntity.EntityName, "shared"), includeState: true, cancellationToken);
        if (counter?.SerializedState != count.ToString(System.Globalization.CultureInfo.InvariantCulture))
        {
            throw new BenchmarkFailedException($"the shared counter reads {counter?.SerializedState ?? "nothing"} after {count} critical sections");
        }

        return new EntityLockResult
        {
            Store = store.StoreName,
            Synchronous = store.SynchronousName,
            Count = count,
            Concurrency = concurrency,
            WarmupOps = warmedUpLock.Completed + warmedUpSections.Completed,
            WarmupSec = Math.Round((warmedUpLock.Elapsed + warmedUpSections.Elapsed).TotalSeconds, 1),
            LockP50Ms = Math.Round(lockOnly.Latency.P50, 2),
            P99Ms = Math.Round(lockOnly.Latency.P99, 2),
            CriticalSectionsPerSec = Math.Round(sections.PerSecond, 1),
            CriticalSectionP50Ms = Math.Round(sections.Latency.P50, 2),
            CriticalSectionP99Ms = Math.Round(sections.Latency.P99, 2),
            ElapsedSec = Math.Round((lockOnly.Elapsed + sections.Elapsed).TotalSeconds, 3),
        };
    }
}
