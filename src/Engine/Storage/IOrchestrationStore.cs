using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Storage;

/// <summary>
/// The contract between the engine and a store: instances, their inboxes and history, the activity queue,
/// entities, and the leases under which workers process them. Every store passes the same conformance suite.
/// </summary>
public interface IOrchestrationStore : IAsyncDisposable
{
    /// <summary>Where the data lives, for messages and logs.</summary>
    string Description { get; }

    /// <summary>Opens the store and recovers what was in motion. Idempotent.</summary>
    /// <exception cref="StoreUnavailableException">The store cannot be opened; the message names where.</exception>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Creates an instance in the Pending status with its ExecutionStarted message.</summary>
    /// <exception cref="InstanceAlreadyExistsException">The id is in use by a non-terminal instance, or by a terminal one and replacing was not asked for.</exception>
    Task CreateInstanceAsync(NewInstance instance, CancellationToken cancellationToken);

    /// <summary>
    /// Puts a message (an event, terminate, suspend, resume) in an instance's inbox. Returns false when the
    /// instance is terminal and the message was dropped.
    /// </summary>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    Task<bool> SendMessageAsync(string instanceId, HistoryEvent message, CancellationToken cancellationToken);

    /// <summary>Reads an instance; null when it does not exist.</summary>
    Task<OrchestrationMetadata?> GetInstanceAsync(string instanceId, bool includePayloads, CancellationToken cancellationToken);

    /// <summary>Lists instances page by page.</summary>
    Task<InstancePage> QueryInstancesAsync(OrchestrationQuery query, CancellationToken cancellationToken);

    /// <summary>The history of an execution (the current one when <paramref name="executionId"/> is null), in order.</summary>
    Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, string? executionId, CancellationToken cancellationToken);

    /// <summary>Removes a terminal instance with its history. Returns 1, or 0 when it did not exist.</summary>
    /// <exception cref="InstanceStateException">The instance is not terminal.</exception>
    Task<int> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken);

    /// <summary>Removes every terminal instance matching the filter; returns how many.</summary>
    Task<int> PurgeInstancesAsync(PurgeFilter filter, CancellationToken cancellationToken);

    /// <summary>
    /// A task that completes at the instance's next committed change. Call it before reading the state it
    /// waits on, so a change between the read and the wait is not missed.
    /// </summary>
    Task WaitForInstanceChangeAsync(string instanceId, CancellationToken cancellationToken);

    /// <summary>
    /// A task that completes when the instance's runtime status next changes (its creation included), with the row
    /// as that change committed it, payloads included. Unlike <see cref="WaitForInstanceChangeAsync"/> it does not
    /// complete at checkpoints that leave the status as it was, so a caller waiting for a run to finish is woken once.
    /// Call it before reading the status it waits on, so a change between the read and the wait is not missed.
    /// </summary>
    Task<OrchestrationMetadata> WaitForStatusChangeAsync(string instanceId, CancellationToken cancellationToken);

    /// <summary>Puts an operation in an entity's inbox, creating the entity if needed.</summary>
    Task SignalEntityAsync(EntityInstanceId entity, string operation, string? input, DateTime? scheduledTime, CancellationToken cancellationToken);

    /// <summary>Reads an entity; null when it does not exist.</summary>
    Task<EntityMetadata?> GetEntityAsync(EntityInstanceId entity, bool includeState, CancellationToken cancellationToken);

    /// <summary>Lists entities whose instance id starts with a prefix, page by page (ordered by id).</summary>
    Task<EntityPage> QueryEntitiesAsync(EntityListQuery query, CancellationToken cancellationToken);

    /// <summary>Removes entities that have no state and no lock, and releases locks whose holder no longer runs.</summary>
    Task<CleanEntityStorageResult> CleanEntityStorageAsync(bool removeEmptyEntities, bool releaseOrphanedLocks, CancellationToken cancellationToken);

    /// <summary>Waits until work of a kind may be ready, or <paramref name="maxWait"/> passes.</summary>
    Task WaitForWorkAsync(WorkItemKind kind, TimeSpan maxWait, CancellationToken cancellationToken);

    /// <summary>Locks the next orchestration with deliverable messages; null when there is none.</summary>
    Task<OrchestrationWorkItem?> TryLockOrchestrationAsync(TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Commits an episode and releases the lease.</summary>
    /// <exception cref="LeaseLostException">The lease expired and the work item went to another worker.</exception>
    Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationCheckpoint checkpoint, CancellationToken cancellationToken);

    /// <summary>Releases the lease without consuming the messages; they are offered again after <paramref name="delay"/>.</summary>
    Task AbandonOrchestrationAsync(OrchestrationWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken);

    /// <summary>Locks the next activity; null when there is none.</summary>
    Task<ActivityWorkItem?> TryLockActivityAsync(TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Hands an activity's result (TaskCompleted or TaskFailed) to its orchestration.</summary>
    /// <exception cref="LeaseLostException">The lease expired and the activity went to another worker.</exception>
    Task CompleteActivityAsync(ActivityWorkItem workItem, HistoryEvent result, CancellationToken cancellationToken);

    /// <summary>Releases an activity lease; the activity runs again after <paramref name="delay"/>.</summary>
    Task AbandonActivityAsync(ActivityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken);

    /// <summary>Locks the next entity with operations to run; null when there is none.</summary>
    Task<EntityWorkItem?> TryLockEntityAsync(TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>
    /// Locks an entity to run one operation that an episode calls inside its critical section, before the call is
    /// sent: possible when the entity is locked by the calling orchestration, idle and has nothing to deliver first,
    /// so the entity would run this call next anyway. The worker runs the operation, feeds the response to the next
    /// episode right away, and the checkpoint carries the result (<see cref="OrchestrationCheckpoint.EntityCalls"/>);
    /// if it does not get that far, it gives the entity back with <see cref="AbandonEntityAsync"/>. Null when the
    /// call must go through the entity's inbox.
    /// </summary>
    Task<EntityWorkItem?> TryLockEntityForCallAsync(string entityInstanceId, HistoryEvent call, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>
    /// Grants a critical section's lock before the request is sent, when every entity of its lock set would grant it
    /// next anyway: none is locked, held by a worker, or has anything to deliver first. Returns the entities leased,
    /// each with a record that holds the lock; the worker feeds the grant to the next episode right away and the
    /// checkpoint commits the records (<see cref="OrchestrationCheckpoint.EntityCalls"/>), or it gives them back with
    /// <see cref="AbandonEntityAsync"/>. Null when the request must go through the entities' inboxes.
    /// </summary>
    Task<IReadOnlyList<EntityWorkItem>?> TryLockEntitiesForSectionAsync(HistoryEvent lockRequest, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Commits an entity batch: the new state, responses to callers, and the signals and orchestrations it started.</summary>
    /// <exception cref="LeaseLostException">The lease expired and the batch went to another worker.</exception>
    Task CompleteEntityAsync(EntityWorkItem workItem, EntityBatchResult result, CancellationToken cancellationToken);

    /// <summary>Releases an entity lease without consuming the operations.</summary>
    Task AbandonEntityAsync(EntityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken);

    /// <summary>Extends the lease of a work item that is still running. Returns false when the lease is gone.</summary>
    bool RenewLease(object workItem, TimeSpan lease);
}

/// <summary>A listing of entities.</summary>
public sealed record EntityListQuery
{
    /// <summary>Only entities whose instance id (<c>@name@key</c>) starts with this text; all when null.</summary>
    public string? InstanceIdStartsWith { get; init; }

    /// <summary>Whether states are returned.</summary>
    public bool IncludeState { get; init; }

    /// <summary>Whether entities without state are listed (transient: only a lock or a backlog).</summary>
    public bool IncludeTransient { get; init; }

    /// <summary>Entities per page.</summary>
    public int PageSize { get; init; } = 100;

    /// <summary>The token of the previous page; null for the first.</summary>
    public string? ContinuationToken { get; init; }
}

/// <summary>One page of entities.</summary>
public sealed record EntityPage(IReadOnlyList<EntityMetadata> Entities, string? ContinuationToken);

/// <summary>What a clean-up removed.</summary>
public sealed record CleanEntityStorageResult(int EmptyEntitiesRemoved, int OrphanedLocksReleased);
