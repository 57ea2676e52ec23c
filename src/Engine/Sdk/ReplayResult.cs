namespace KataWorkflows.Engine.Sdk;

/// <summary>
/// The outcome of replaying a recorded history against the current orchestration code, offline, through
/// DurableTask.Core's executor (<see cref="SdkOrchestrationRunner.Replay"/>): what production would do with it.
/// </summary>
public sealed record ReplayResult
{
    /// <summary>True when the code did exactly what the history recorded.</summary>
    public required bool IsDeterministic { get; init; }

    /// <summary>The number of history events replayed.</summary>
    public int EventsReplayed { get; init; }

    /// <summary>The index of the first history event where the code diverged.</summary>
    public int? EventIndex { get; init; }

    /// <summary>What the history recorded there.</summary>
    public string? Recorded { get; init; }

    /// <summary>What the current code did instead: its action at that sequence number, if any, and DurableTask.Core's message.</summary>
    public string? Produced { get; init; }

    internal static ReplayResult Deterministic(int events) => new() { IsDeterministic = true, EventsReplayed = events };

    internal static ReplayResult Diverged(int index, string recorded, string produced) =>
        new() { IsDeterministic = false, EventsReplayed = index, EventIndex = index, Recorded = recorded, Produced = produced };

    /// <inheritdoc />
    public override string ToString() => IsDeterministic
        ? $"deterministic: {EventsReplayed} events replayed"
        : $"diverged at event #{EventIndex}: recorded {Recorded}, the code now produced {Produced}";
}
