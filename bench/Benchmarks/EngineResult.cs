namespace KataWorkflows.Bench.Benchmarks;

/// <summary>The JSON line of the <c>engine</c> benchmark.</summary>
internal sealed record EngineResult
{
    public string Benchmark { get; init; } = EngineBenchmark.CommandName;

    public required string Store { get; init; }

    /// <summary>SQLite's synchronous mode; null for the memory store.</summary>
    public required string? Synchronous { get; init; }

    public required int Count { get; init; }

    public required int Concurrency { get; init; }

    /// <summary>Operations run in the warm-up (not measured), and its duration.</summary>
    public required int WarmupOps { get; init; }

    public required double WarmupSec { get; init; }

    /// <summary>How instance ids were made: <c>ordered</c> (the engine's default) or <c>random</c>.</summary>
    public required string Ids { get; init; }

    /// <summary>Who ran the workflows: <c>in-process</c> (the engine's worker) or <c>remote</c> (the official gRPC worker in another process).</summary>
    public required string Worker { get; init; }

    public required double WorkflowsPerSec { get; init; }

    /// <summary>Activities completed per second (<see cref="EngineBenchmark.ActivitiesPerWorkflow"/> per workflow).</summary>
    public required double StepsPerSec { get; init; }

    /// <summary>Median of schedule → completion observed by the client.</summary>
    public required double P50Ms { get; init; }

    public required double P99Ms { get; init; }

    public required double MaxMs { get; init; }

    public required double ElapsedSec { get; init; }

    /// <summary>
    /// CPU time over the measured loop, per workflow: of the whole process (worker, store, clients), and with
    /// <c>--worker remote</c> of the worker process too.
    /// </summary>
    public required double CpuUsPerWorkflow { get; init; }

    /// <summary>With <c>--worker remote</c>, the worker process's share of <see cref="CpuUsPerWorkflow"/>; null otherwise.</summary>
    public required double? WorkerCpuUsPerWorkflow { get; init; }

    /// <summary>Managed memory allocated over the measured loop, per workflow (GC.GetTotalAllocatedBytes).</summary>
    public required double AllocatedKbPerWorkflow { get; init; }
}
