namespace KataWorkflows.Engine;

/// <summary>What the store knows about an orchestration instance: its identity, status and payloads.</summary>
public sealed record OrchestrationMetadata
{
    /// <summary>The instance id.</summary>
    public required string InstanceId { get; init; }

    /// <summary>The orchestrator name.</summary>
    public required string Name { get; init; }

    /// <summary>The orchestration version given at creation, if any.</summary>
    public string? Version { get; init; }

    /// <summary>The id of the current execution; continue-as-new starts a new one.</summary>
    public required string ExecutionId { get; init; }

    /// <summary>The runtime status.</summary>
    public required OrchestrationRuntimeStatus Status { get; init; }

    /// <summary>When the instance was created.</summary>
    public required DateTime CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public required DateTime LastUpdatedAt { get; init; }

    /// <summary>When it reached a terminal status.</summary>
    public DateTime? CompletedAt { get; init; }

    /// <summary>The start time asked for, when the start was delayed.</summary>
    public DateTime? ScheduledStartAt { get; init; }

    /// <summary>The input as JSON text (absent when not requested).</summary>
    public string? SerializedInput { get; init; }

    /// <summary>The output as JSON text (absent when not requested).</summary>
    public string? SerializedOutput { get; init; }

    /// <summary>The custom status as JSON text (absent when not requested).</summary>
    public string? SerializedCustomStatus { get; init; }

    /// <summary>The failure, for a failed instance.</summary>
    public FailureDetails? FailureDetails { get; init; }

    /// <summary>The parent instance, for a sub-orchestration.</summary>
    public string? ParentInstanceId { get; init; }

    /// <summary>Tags given at creation.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = EmptyTags;

    /// <summary>The W3C traceparent of the client call that started the instance, if any.</summary>
    public string? TraceParent { get; init; }

    /// <summary>True when the instance will not run again.</summary>
    public bool IsTerminal => Status.IsTerminal();

    /// <summary>A copy without the payload fields.</summary>
    public OrchestrationMetadata WithoutPayloads() =>
        this with { SerializedInput = null, SerializedOutput = null, SerializedCustomStatus = null };

    private static readonly IReadOnlyDictionary<string, string> EmptyTags = new Dictionary<string, string>();
}
