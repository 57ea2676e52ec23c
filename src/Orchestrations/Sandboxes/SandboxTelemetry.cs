using System.Diagnostics.Metrics;

namespace KataWorkflows.Orchestrations.Sandboxes;

/// <summary>The sandbox orchestrations' meter and the names of its instruments and tags.</summary>
public static class SandboxTelemetry
{
    /// <summary>The name of the sandbox orchestrations' <see cref="Meter"/>.</summary>
    public const string Name = "KataWorkflows.Orchestrations";

    /// <summary>Counter: sandbox operation runs that failed and were compensated (every step undone). Tag <see cref="OperationTag"/>.</summary>
    public const string CompensatedInstrument = "kwf.sandbox.operations.compensated";

    /// <summary>Metric tag: the operation (orchestration name), e.g. <c>CreateSandbox</c>.</summary>
    public const string OperationTag = "kwf.operation";

    private static readonly Meter Meter = new(Name);
    private static readonly Counter<long> Compensated = Meter.CreateCounter<long>(CompensatedInstrument, "{run}", "Sandbox operation runs that failed and were compensated.");

    /// <summary>
    /// Counts a compensated run. Called by orchestration code only when it is not replaying: the count has no effect
    /// on what the code does, and a replayed episode does not count the run again.
    /// </summary>
    internal static void RecordCompensated(string operation) => Compensated.Add(1, new KeyValuePair<string, object?>(OperationTag, operation));
}
