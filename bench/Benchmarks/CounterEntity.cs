using Microsoft.DurableTask.Entities;

namespace KataWorkflows.Bench.Benchmarks;

/// <summary>A counter: the smallest entity with state, for lock benchmarks.</summary>
internal sealed class CounterEntity : TaskEntity<int>
{
    /// <summary>The entity name (stored in history).</summary>
    public const string EntityName = "bench-counter";

    /// <summary>Adds <paramref name="amount"/> and returns the new value.</summary>
    public int Add(int amount) => State += amount;

    /// <summary>The current value.</summary>
    public int Get() => State;
}
