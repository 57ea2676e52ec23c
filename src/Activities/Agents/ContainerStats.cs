namespace KataWorkflows.Activities.Agents;

/// <summary>A container's resource usage, from its cgroup in the guest (Kata's <c>ContainerStats</c>, the usual numbers).</summary>
/// <param name="CpuUsageNanoseconds">Total CPU time consumed.</param>
/// <param name="CpuSystemNanoseconds">CPU time consumed in kernel mode.</param>
/// <param name="MemoryUsageBytes">Memory in use.</param>
/// <param name="MemoryLimitBytes">The memory limit (0 when unlimited or unknown).</param>
/// <param name="Pids">The number of processes.</param>
public sealed record ContainerStats(
    long CpuUsageNanoseconds,
    long CpuSystemNanoseconds,
    long MemoryUsageBytes,
    long MemoryLimitBytes,
    int Pids)
{
    /// <summary>All zeros: what the noop agent reports.</summary>
    public static ContainerStats Empty { get; } = new(0, 0, 0, 0, 0);
}
