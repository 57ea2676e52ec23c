namespace KataWorkflows.Engine.Client;

/// <summary>Options for scheduling a new orchestration instance.</summary>
public sealed record StartOrchestrationOptions
{
    /// <summary>The instance id; a new GUID when null.</summary>
    public string? InstanceId { get; init; }

    /// <summary>Do not start before this time (UTC).</summary>
    public DateTimeOffset? StartAt { get; init; }

    /// <summary>When an instance with the id exists and is terminal, replace it; otherwise a conflict is an error.</summary>
    public bool ReplaceTerminalInstance { get; init; }

    /// <summary>The orchestration version.</summary>
    public string? Version { get; init; }

    /// <summary>Tags stored with the instance.</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>The W3C traceparent to continue; the current activity's when null.</summary>
    public string? TraceParent { get; init; }
}
