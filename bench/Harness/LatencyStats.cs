namespace KataWorkflows.Bench.Harness;

/// <summary>Percentiles of a set of latencies in milliseconds (nearest-rank).</summary>
internal sealed class LatencyStats
{
    private readonly double[] _sorted;

    /// <summary>Summarizes <paramref name="milliseconds"/> (copied, then sorted).</summary>
    public LatencyStats(IEnumerable<double> milliseconds)
    {
        _sorted = [.. milliseconds];
        if (_sorted.Length == 0)
        {
            throw new ArgumentException("No latencies were recorded.", nameof(milliseconds));
        }

        Array.Sort(_sorted);
    }

    /// <summary>The median.</summary>
    public double P50 => Percentile(50);

    /// <summary>The 99th percentile.</summary>
    public double P99 => Percentile(99);

    /// <summary>The largest.</summary>
    public double Max => _sorted[^1];

    /// <summary>The smallest value that at least <paramref name="percent"/>% of the values do not exceed.</summary>
    public double Percentile(double percent)
    {
        var rank = (int)Math.Ceiling(percent / 100 * _sorted.Length);
        return _sorted[Math.Clamp(rank, 1, _sorted.Length) - 1];
    }
}
