namespace KataWorkflows.Bench.Harness;

/// <summary>The store backend a benchmark runs on.</summary>
internal enum StoreKind
{
    /// <summary>The SQLite backend on a file.</summary>
    Sqlite,

    /// <summary>The in-memory backend: the engine's own cost, without durability.</summary>
    Memory,
}
