using KataWorkflows.Engine;

namespace KataWorkflows.Orchestrations.Model;

/// <summary>
/// The root of the sandbox API's errors. Each subtype is a distinct failure kind: its type name is what crosses
/// the history boundary (as the failure's error type), and what clients map to status codes.
/// </summary>
public abstract class SandboxException : DurableTaskException, INonRetriable
{
    /// <summary>Creates the exception.</summary>
    protected SandboxException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>A request is malformed: an empty or invalid id, an invalid configuration. The message names the field.</summary>
public sealed class InvalidSandboxArgumentException : SandboxException
{
    /// <summary>Creates the exception.</summary>
    public InvalidSandboxArgumentException(string field, string message)
        : base(message)
    {
        Field = field;
    }

    /// <summary>The field that is wrong.</summary>
    public string Field { get; }
}

/// <summary>The sandbox or container does not exist.</summary>
public sealed class SandboxNotFoundException : SandboxException
{
    /// <summary>Creates the exception.</summary>
    public SandboxNotFoundException(string message)
        : base(message)
    {
    }
}

/// <summary>The sandbox or container already exists.</summary>
public sealed class SandboxAlreadyExistsException : SandboxException
{
    /// <summary>Creates the exception.</summary>
    public SandboxAlreadyExistsException(string message)
        : base(message)
    {
    }
}

/// <summary>A state transition that Kata's table does not allow.</summary>
public sealed class InvalidStateTransitionException : SandboxException
{
    /// <summary>Creates the exception.</summary>
    public InvalidStateTransitionException(string subject, SandboxState current, SandboxState requested, string message)
        : base($"{message} ({subject})")
    {
        Subject = subject;
        Current = current;
        Requested = requested;
    }

    /// <summary>"sandbox &lt;id&gt;" or "container &lt;id&gt;".</summary>
    public string Subject { get; }

    /// <summary>The state it was in.</summary>
    public SandboxState Current { get; }

    /// <summary>The state asked for.</summary>
    public SandboxState Requested { get; }
}

/// <summary>An operation's precondition does not hold (Kata's "Sandbox not running", "Container not ready or stopped"...).</summary>
public sealed class SandboxPreconditionException : SandboxException
{
    /// <summary>Creates the exception.</summary>
    public SandboxPreconditionException(string message)
        : base(message)
    {
    }
}

/// <summary>A step failed and the steps before it were undone: the sandbox is as it was before the call.</summary>
public sealed class SandboxOperationCompensatedException : SandboxException
{
    /// <summary>Creates the exception.</summary>
    public SandboxOperationCompensatedException(string operation, string sandboxId, string failedStep, string cause, IReadOnlyList<string> compensations)
        : base($"{operation} of sandbox {sandboxId} failed at {failedStep}: {cause}. Undone: {(compensations.Count == 0 ? "nothing to undo" : string.Join(", ", compensations))}.")
    {
        FailedStep = failedStep;
        Compensations = compensations;
    }

    /// <summary>The step that failed.</summary>
    public string FailedStep { get; }

    /// <summary>The compensations that ran, in order.</summary>
    public IReadOnlyList<string> Compensations { get; }
}

/// <summary>A step failed and undoing it failed too: the sandbox is marked for cleanup with the reason.</summary>
public sealed class SandboxCleanupRequiredException : SandboxException
{
    /// <summary>Creates the exception.</summary>
    public SandboxCleanupRequiredException(string sandboxId, string reason)
        : base($"Sandbox {sandboxId} needs cleanup: {reason}")
    {
        Reason = reason;
    }

    /// <summary>Why the sandbox needs cleanup.</summary>
    public string Reason { get; }
}
