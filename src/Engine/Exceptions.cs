namespace KataWorkflows.Engine;

/// <summary>The root of every exception the engine throws on purpose.</summary>
public class DurableTaskException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DurableTaskException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a cause.</summary>
    public DurableTaskException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Thrown into orchestration code when a task it awaited failed: an activity, a sub-orchestration or an entity
/// operation. <see cref="FailureDetails"/> holds what the failing side recorded.
/// </summary>
public sealed class TaskFailedException : DurableTaskException
{
    /// <summary>Creates the exception.</summary>
    public TaskFailedException(string taskName, int taskId, FailureDetails failureDetails)
        : base($"Task '{taskName}' (#{taskId}) failed: {failureDetails.ErrorType}: {failureDetails.ErrorMessage}")
    {
        TaskName = taskName;
        TaskId = taskId;
        FailureDetails = failureDetails;
    }

    /// <summary>The activity, sub-orchestration or entity operation name.</summary>
    public string TaskName { get; }

    /// <summary>The sequence number of the failed task in the orchestration's history.</summary>
    public int TaskId { get; }

    /// <summary>The failure the task recorded.</summary>
    public FailureDetails FailureDetails { get; }
}

/// <summary>
/// The orchestration code did something different from what its history recorded: the code changed under a
/// running instance, or it is not deterministic. The instance fails with this error.
/// </summary>
public sealed class NonDeterministicOrchestrationException : DurableTaskException, INonRetriable
{
    /// <summary>Creates the exception.</summary>
    public NonDeterministicOrchestrationException(int eventIndex, string recorded, string produced)
        : base($"Non-deterministic orchestration: history event #{eventIndex} recorded {recorded}, but the code now produced {produced}.")
    {
        EventIndex = eventIndex;
        Recorded = recorded;
        Produced = produced;
    }

    /// <summary>The index of the history event where replay diverged.</summary>
    public int EventIndex { get; }

    /// <summary>What the history recorded at that point.</summary>
    public string Recorded { get; }

    /// <summary>What the current code did instead.</summary>
    public string Produced { get; }
}

/// <summary>An instance id is already in use by an instance that is not in a terminal state.</summary>
public sealed class InstanceAlreadyExistsException : DurableTaskException
{
    /// <summary>Creates the exception.</summary>
    public InstanceAlreadyExistsException(string instanceId, OrchestrationRuntimeStatus status)
        : base($"An instance with id '{instanceId}' already exists and is {status}.")
    {
        InstanceId = instanceId;
        Status = status;
    }

    /// <summary>The conflicting id.</summary>
    public string InstanceId { get; }

    /// <summary>The status of the existing instance.</summary>
    public OrchestrationRuntimeStatus Status { get; }
}

/// <summary>No instance with the given id exists.</summary>
public sealed class InstanceNotFoundException : DurableTaskException
{
    /// <summary>Creates the exception.</summary>
    public InstanceNotFoundException(string instanceId)
        : base($"No instance with id '{instanceId}' exists.")
    {
        InstanceId = instanceId;
    }

    /// <summary>The missing id.</summary>
    public string InstanceId { get; }
}

/// <summary>The operation is not allowed in the instance's current state (for example, purging a running instance).</summary>
public sealed class InstanceStateException : DurableTaskException
{
    /// <summary>Creates the exception.</summary>
    public InstanceStateException(string instanceId, OrchestrationRuntimeStatus status, string operation)
        : base($"Cannot {operation} instance '{instanceId}': it is {status}.")
    {
        InstanceId = instanceId;
        Status = status;
    }

    /// <summary>The instance id.</summary>
    public string InstanceId { get; }

    /// <summary>Its status when the operation was refused.</summary>
    public OrchestrationRuntimeStatus Status { get; }
}

/// <summary>The store cannot be opened or used: a path that cannot be opened, a schema it does not know, another owner.</summary>
public sealed class StoreUnavailableException : DurableTaskException
{
    /// <summary>Creates the exception.</summary>
    public StoreUnavailableException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
