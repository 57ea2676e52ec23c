namespace KataWorkflows.Bench.Benchmarks;

/// <summary>The JSON line of the <c>entity-lock</c> benchmark.</summary>
internal sealed record EntityLockResult
{
    public string Benchmark { get; init; } = EntityLockBenchmark.CommandName;

    public required string Store { get; init; }

    /// <summary>SQLite's synchronous mode; null for the memory store.</summary>
    public required string? Synchronous { get; init; }

    public required int Count { get; init; }

    public required int Concurrency { get; init; }

    /// <summary>Operations run in the warm-up (not measured), and its duration.</summary>
    public required int WarmupOps { get; init; }

    public required double WarmupSec { get; init; }

    /// <summary>Median schedule → completion of an orchestration that only locks one entity and releases it (one client, sequential).</summary>
    public required double LockP50Ms { get; init; }

    /// <summary>99th percentile of the same.</summary>
    public required double P99Ms { get; init; }

    /// <summary>Critical sections (lock, one entity call, release) completed per second on one shared entity.</summary>
    public required double CriticalSectionsPerSec { get; init; }

    /// <summary>Median schedule → completion of one critical-section orchestration under contention.</summary>
    public required double CriticalSectionP50Ms { get; init; }

    public required double CriticalSectionP99Ms { get; init; }

    /// <summary>The two phases' wall time.</summary>
    public required double ElapsedSec { get; init; }

    /// <summary>What <see cref="LockP50Ms"/> measures, so the number is never read as a bare lock-grant time.</summary>
    public string LockMeasure { get; init; } =
        "end-to-end time from schedule to observed completion of an orchestration that only locks one entity and releases it; one client, sequential";
}
