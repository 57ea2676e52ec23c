namespace KataWorkflows.Engine;

/// <summary>What the store knows about a durable entity.</summary>
public sealed record EntityMetadata
{
    /// <summary>The entity id.</summary>
    public required EntityInstanceId Id { get; init; }

    /// <summary>The state as JSON text; null when the entity has no state (deleted, or never set) or it was not requested.</summary>
    public string? SerializedState { get; init; }

    /// <summary>When the state or the lock last changed.</summary>
    public required DateTime LastModifiedAt { get; init; }

    /// <summary>The orchestration instance holding the entity's lock, if any.</summary>
    public string? LockedBy { get; init; }

    /// <summary>The critical section that holds the lock, if any.</summary>
    public string? CriticalSectionId { get; init; }

    /// <summary>Operations and lock requests waiting to be processed.</summary>
    public int BacklogQueueSize { get; init; }
}
