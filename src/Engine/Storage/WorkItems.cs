using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Storage;

/// <summary>
/// An orchestration instance handed to one worker under a lease: its committed history and the inbox messages
/// to process in this episode.
/// </summary>
public sealed class OrchestrationWorkItem
{
    internal OrchestrationWorkItem(OrchestrationMetadata metadata, IReadOnlyList<HistoryEvent> pastEvents, IReadOnlyList<HistoryEvent> newMessages, long leaseToken, long[] sequences)
    {
        Metadata = metadata;
        PastEvents = pastEvents;
        NewMessages = newMessages;
        LeaseToken = leaseToken;
        MessageSequences = sequences;
    }

    /// <summary>The instance id.</summary>
    public string InstanceId => Metadata.InstanceId;

    /// <summary>The instance as it was when the work item was locked.</summary>
    public OrchestrationMetadata Metadata { get; }

    /// <summary>The committed history of the current execution.</summary>
    public IReadOnlyList<HistoryEvent> PastEvents { get; }

    /// <summary>The inbox messages of this episode, in arrival order.</summary>
    public IReadOnlyList<HistoryEvent> NewMessages { get; }

    /// <summary>Identifies this lease; remote workers echo it back as the completion token.</summary>
    public string CompletionToken => LeaseToken.ToString(System.Globalization.CultureInfo.InvariantCulture);

    internal long LeaseToken { get; }

    internal long[] MessageSequences { get; }
}

/// <summary>A scheduled activity handed to one worker under a lease.</summary>
public sealed class ActivityWorkItem
{
    internal ActivityWorkItem(StoredActivity activity, long leaseToken)
    {
        Activity = activity;
        LeaseToken = leaseToken;
    }

    /// <summary>The protocol request: name, input, orchestration instance and task id.</summary>
    public ActivityRequest Request => Activity.Request;

    /// <summary>The scheduling instance.</summary>
    public string InstanceId => Activity.InstanceId;

    /// <summary>Identifies this lease; remote workers echo it back as the completion token.</summary>
    public string CompletionToken => LeaseToken.ToString(System.Globalization.CultureInfo.InvariantCulture);

    internal StoredActivity Activity { get; }

    internal long LeaseToken { get; }

    /// <summary>
    /// Set by a worker that takes the orchestration's next episode itself once the result is handed in: the store then
    /// queues the orchestration without waking a dispatcher for it.
    /// </summary>
    internal bool CallerTakesNextEpisode { get; set; }
}

/// <summary>An entity with a batch of operations handed to one worker under a lease.</summary>
public sealed class EntityWorkItem
{
    internal EntityWorkItem(EntityRecord entity, IReadOnlyList<HistoryEvent> operations, long leaseToken, long[] sequences)
    {
        Entity = entity;
        Operations = operations;
        LeaseToken = leaseToken;
        MessageSequences = sequences;
    }

    /// <summary>The entity's instance id.</summary>
    public string InstanceId => Entity.InstanceId;

    /// <summary>The entity record, its state included, when the batch was locked.</summary>
    public EntityRecord Entity { get; }

    /// <summary>The operations of this batch (signals and calls), in order.</summary>
    public IReadOnlyList<HistoryEvent> Operations { get; }

    /// <summary>Identifies this lease; remote workers echo it back as the completion token.</summary>
    public string CompletionToken => LeaseToken.ToString(System.Globalization.CultureInfo.InvariantCulture);

    internal long LeaseToken { get; }

    internal long[] MessageSequences { get; }
}

/// <summary>A message for another instance, produced by an episode.</summary>
/// <param name="TargetInstanceId">The receiver (an orchestration or an entity).</param>
/// <param name="Event">The message.</param>
/// <param name="VisibleAt">Not delivered before this time.</param>
public sealed record OutboundMessage(string TargetInstanceId, HistoryEvent Event, DateTime? VisibleAt = null);

/// <summary>A sub-orchestration an episode starts.</summary>
/// <param name="Metadata">The child's instance row.</param>
/// <param name="ExecutionStarted">Its first message, naming the parent.</param>
public sealed record ChildInstance(OrchestrationMetadata Metadata, HistoryEvent ExecutionStarted);

/// <summary>
/// Everything one orchestration episode changes, committed in one transaction: the history it appends, the
/// instance's new row, and the work it hands on.
/// </summary>
public sealed class OrchestrationCheckpoint
{
    /// <summary>The instance row after the episode, payloads included.</summary>
    public required OrchestrationMetadata Metadata { get; init; }

    /// <summary>History appended to the current execution (empty when a new execution starts).</summary>
    public List<HistoryEvent> NewHistory { get; } = [];

    /// <summary>True when the instance continued as new: the previous execution's history is dropped.</summary>
    public bool StartsNewExecution { get; init; }

    /// <summary>Activities to schedule.</summary>
    public List<ActivityRequest> Activities { get; } = [];

    /// <summary>Messages to this instance itself (timers, and the first messages of a new execution).</summary>
    public List<OutboundMessage> SelfMessages { get; } = [];

    /// <summary>Messages to other instances and entities.</summary>
    public List<OutboundMessage> OutboundMessages { get; } = [];

    /// <summary>Sub-orchestrations to create.</summary>
    public List<ChildInstance> NewChildren { get; } = [];

    /// <summary>
    /// Entity operations the worker ran inside the episode, each under a lease from
    /// <see cref="IOrchestrationStore.TryLockEntityForCallAsync"/>; their responses are already in
    /// <see cref="NewHistory"/>, and the entities' new states are committed with this checkpoint.
    /// </summary>
    public List<InlineEntityCall> EntityCalls { get; } = [];

    /// <summary>
    /// Set by a worker that runs the checkpoint's one activity itself once it committed: the store then queues it
    /// without waking a dispatcher for it.
    /// </summary>
    internal bool CallerTakesActivity { get; set; }
}

/// <summary>An entity operation run inside an episode's checkpoint: the leased entity and what the operation left.</summary>
/// <param name="WorkItem">The entity, leased for the one call.</param>
/// <param name="Result">The operation's result: the entity's state after it.</param>
public sealed record InlineEntityCall(EntityWorkItem WorkItem, EntityBatchResult Result)
{
    /// <summary>The entity's state after the call: what the operation left, or the state before it when the batch failed as a whole.</summary>
    public string? StateAfter => Result.FailureDetails is null ? Result.EntityState : WorkItem.Entity.SerializedState;
}

/// <summary>A request to create an instance.</summary>
public sealed record NewInstance
{
    /// <summary>The new instance's row (status Pending).</summary>
    public required OrchestrationMetadata Metadata { get; init; }

    /// <summary>Its ExecutionStarted message.</summary>
    public required HistoryEvent ExecutionStarted { get; init; }

    /// <summary>Replace an existing instance with this id when that one is terminal; otherwise a conflict is an error.</summary>
    public bool ReplaceTerminal { get; init; }

    /// <summary>
    /// With <see cref="ReplaceTerminal"/>: only a terminal instance in one of these statuses is replaced, any other is a
    /// conflict (the client's dedupe statuses); every terminal status when null.
    /// </summary>
    public IReadOnlyCollection<OrchestrationRuntimeStatus>? ReplaceableStatuses { get; init; }
}

/// <summary>The kinds of work a worker asks for.</summary>
public enum WorkItemKind
{
    /// <summary>Orchestration episodes.</summary>
    Orchestration,

    /// <summary>Activities.</summary>
    Activity,

    /// <summary>Entity operation batches.</summary>
    Entity,
}

/// <summary>A lease was lost: the work item expired and was handed to another worker, so its result is discarded.</summary>
public sealed class LeaseLostException : DurableTaskException
{
    /// <summary>Creates the exception.</summary>
    public LeaseLostException(string instanceId)
        : base($"The lease on the work item of '{instanceId}' expired before it was completed; its result was discarded.")
    {
    }
}
