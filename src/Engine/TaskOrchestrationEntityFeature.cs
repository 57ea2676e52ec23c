namespace KataWorkflows.Engine;

/// <summary>Entity operations and critical sections, as orchestration code sees them.</summary>
public abstract class TaskOrchestrationEntityFeature
{
    /// <summary>
    /// Calls an operation on an entity and returns its result. Inside a critical section only the locked
    /// entities may be called, one call at a time per entity.
    /// </summary>
    /// <exception cref="TaskFailedException">The operation threw; the entity's state is unchanged.</exception>
    public abstract Task<TResult> CallEntityAsync<TResult>(EntityInstanceId id, string operationName, object? input = null);

    /// <summary>Calls an operation whose result is not needed.</summary>
    public Task CallEntityAsync(EntityInstanceId id, string operationName, object? input = null) =>
        CallEntityAsync<object?>(id, operationName, input);

    /// <summary>Sends an operation one way. A locked entity of the current critical section must not be signalled.</summary>
    public abstract void SignalEntity(EntityInstanceId id, string operationName, object? input = null, DateTime? signalTime = null);

    /// <summary>
    /// Enters a critical section: locks every given entity (acquired in sorted order, so two orchestrations
    /// locking the same set never deadlock). Disposing the returned object releases the locks; so does the end
    /// of the orchestration, whatever the reason.
    /// </summary>
    public abstract Task<IAsyncDisposable> LockEntitiesAsync(params EntityInstanceId[] entityIds);

    /// <summary>True while a critical section is held; <paramref name="entityIds"/> lists its locked entities.</summary>
    public abstract bool InCriticalSection(out IReadOnlyList<EntityInstanceId> entityIds);
}

/// <summary>Orchestration code misused entities or critical sections (nested sections, calling an unlocked entity...).</summary>
public sealed class EntityLockMisuseException : DurableTaskException, INonRetriable
{
    /// <summary>Creates the exception.</summary>
    public EntityLockMisuseException(string message)
        : base(message)
    {
    }
}
