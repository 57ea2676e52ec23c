using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Storage;

/// <summary>A message waiting in an instance's inbox (an orchestration's or an entity's).</summary>
/// <param name="Sequence">Store-wide sequence number: the FIFO order.</param>
/// <param name="InstanceId">The receiving instance.</param>
/// <param name="VisibleAt">Not delivered before this time (timers, delayed starts, scheduled signals).</param>
/// <param name="Event">The message itself, a protocol history event.</param>
public sealed record StoredMessage(long Sequence, string InstanceId, DateTime? VisibleAt, HistoryEvent Event);

/// <summary>A scheduled activity waiting to run.</summary>
/// <param name="Sequence">Store-wide sequence number.</param>
/// <param name="Request">The protocol activity request: name, input, instance, execution and task id.</param>
public sealed record StoredActivity(long Sequence, ActivityRequest Request)
{
    /// <summary>The orchestration instance that scheduled it.</summary>
    public string InstanceId => Request.OrchestrationInstance.InstanceId;
}

/// <summary>History appended to one execution, numbered from <paramref name="FirstSequence"/>.</summary>
public sealed record HistoryAppend(string InstanceId, string ExecutionId, int FirstSequence, IReadOnlyList<HistoryEvent> Events);

/// <summary>The durable record of an entity.</summary>
/// <param name="InstanceId">The entity's instance id (<c>@name@key</c>).</param>
/// <param name="SerializedState">The state as JSON text; null when it has none.</param>
/// <param name="LastModifiedAt">When the state or lock last changed.</param>
/// <param name="LockedBy">The orchestration holding the lock, if any.</param>
/// <param name="CriticalSectionId">The critical section holding the lock, if any.</param>
/// <param name="LockSet">The lock set of the lock request that holds the lock (to forward the request on).</param>
public sealed record EntityRecord(
    string InstanceId, string? SerializedState, DateTime LastModifiedAt, string? LockedBy, string? CriticalSectionId, IReadOnlyList<string>? LockSet = null)
{
    /// <summary>True when the entity has neither state nor a lock: it may be removed.</summary>
    public bool IsEmpty => SerializedState is null && LockedBy is null;
}

/// <summary>
/// Every change of one store transaction. A backend applies a batch atomically: all of it or none. Deletions
/// of instances remove their history, inbox messages and activities too.
/// </summary>
public sealed class StoreBatch
{
    /// <summary>Instances removed before anything else is applied (purge, or replacing a terminal instance).</summary>
    public List<string> DeleteInstances { get; } = [];

    /// <summary>Instance rows inserted or replaced whole.</summary>
    public List<OrchestrationMetadata> UpsertInstances { get; } = [];

    /// <summary>
    /// Ids among <see cref="UpsertInstances"/> whose row is stored already and keeps what identifies the execution
    /// (name, version, execution id, creation and start times, input, parent, tags, trace parent), so a backend may
    /// write only what moves (status, times, output, custom status, failure); the value says whether the status
    /// changed. A backend that replaces rows whole may ignore it.
    /// </summary>
    public Dictionary<string, bool> ProgressOnly { get; } = new(StringComparer.Ordinal);

    /// <summary>Executions whose history is dropped because the instance continued as new: (instance, execution to keep).</summary>
    public List<(string InstanceId, string KeepExecutionId)> TruncateHistory { get; } = [];

    /// <summary>History appended.</summary>
    public List<HistoryAppend> AppendHistory { get; } = [];

    /// <summary>Inbox messages added.</summary>
    public List<StoredMessage> InsertMessages { get; } = [];

    /// <summary>Inbox messages consumed, by sequence.</summary>
    public List<long> DeleteMessages { get; } = [];

    /// <summary>Activities scheduled.</summary>
    public List<StoredActivity> InsertActivities { get; } = [];

    /// <summary>Activities finished or dropped, by sequence.</summary>
    public List<long> DeleteActivities { get; } = [];

    /// <summary>Entity records inserted or replaced.</summary>
    public List<EntityRecord> UpsertEntities { get; } = [];

    /// <summary>Entity records removed.</summary>
    public List<string> DeleteEntities { get; } = [];

    /// <summary>True when the batch changes nothing.</summary>
    public bool IsEmpty =>
        DeleteInstances.Count == 0 && UpsertInstances.Count == 0 && TruncateHistory.Count == 0 && AppendHistory.Count == 0
        && InsertMessages.Count == 0 && DeleteMessages.Count == 0 && InsertActivities.Count == 0 && DeleteActivities.Count == 0
        && UpsertEntities.Count == 0 && DeleteEntities.Count == 0;
}

/// <summary>What a backend holds that is still in motion, loaded once when the store opens.</summary>
/// <param name="ActiveInstances">Instances that are not terminal.</param>
/// <param name="Messages">Every inbox message, in sequence order.</param>
/// <param name="Activities">Every scheduled activity, in sequence order.</param>
/// <param name="Entities">Every entity record.</param>
/// <param name="MaxSequence">The largest message or activity sequence number used so far.</param>
public sealed record RecoveredState(
    IReadOnlyList<OrchestrationMetadata> ActiveInstances,
    IReadOnlyList<StoredMessage> Messages,
    IReadOnlyList<StoredActivity> Activities,
    IReadOnlyList<EntityRecord> Entities,
    long MaxSequence);
