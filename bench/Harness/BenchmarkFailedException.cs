namespace KataWorkflows.Bench.Harness;

/// <summary>The benchmark ran but something in it went wrong (a workflow failed or hung). Exit code 1.</summary>
internal sealed class BenchmarkFailedException(string message, Exception? inner = null) : Exception(message, inner);
