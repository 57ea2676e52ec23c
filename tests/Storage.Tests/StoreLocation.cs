namespace KataWorkflows.Storage.Tests;

/// <summary>
/// Where one test's durable data lives. Opening a second store over the same location after disposing the first
/// is a restart: what the first store committed must be there, and nothing it only held in memory.
/// </summary>
public sealed class StoreLocation
{
    internal StoreLocation(string name)
    {
        Name = name;
    }

    /// <summary>A name unique within the test (a file name, a schema name).</summary>
    public string Name { get; }

    /// <summary>What an in-process store keeps between restarts (the in-memory backend); unused by stores on disk.</summary>
    public object? State { get; set; }

    /// <summary>The faults the test injects into the commits of stores opened here, when the store supports it.</summary>
    public CommitFaults Faults { get; } = new();
}
