namespace KataWorkflows.Bench.Harness;

/// <summary>What a <see cref="ClosedLoop"/> run measured.</summary>
/// <param name="Completed">Operations completed.</param>
/// <param name="Elapsed">Wall time from the first operation's start to the last one's end.</param>
/// <param name="Latency">Per-operation latencies.</param>
internal sealed record LoopResult(int Completed, TimeSpan Elapsed, LatencyStats Latency)
{
    /// <summary>Operations per second.</summary>
    public double PerSecond => Completed / Elapsed.TotalSeconds;
}
