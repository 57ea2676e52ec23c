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
