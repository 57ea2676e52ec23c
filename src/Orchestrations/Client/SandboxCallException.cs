using KataWorkflows.Engine;
using TaskFailureDetails = Microsoft.DurableTask.TaskFailureDetails;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Orchestrations.Client;

/// <summary>How a sandbox call failed, in the terms a client maps to status codes and exit codes.</summary>
public enum SandboxErrorKind
{
    /// <summary>The request was malformed; nothing was scheduled or nothing was changed.</summary>
    InvalidArgument,

    /// <summary>The sandbox or container does not exist.</summary>
    NotFound,

    /// <summary>The sandbox, container, device or interface already exists.</summary>
    AlreadyExists,

    /// <summary>The current state does not allow the call (an invalid transition, a precondition).</summary>
    FailedPrecondition,

    /// <summary>A step failed and what the call had done was undone.</summary>
    Compensated,

    /// <summary>A step failed and could not be undone: the sandbox is marked for cleanup.</summary>
    CleanupRequired,

    /// <summary>The run was terminated.</summary>
    Terminated,

    /// <summary>Any other failure.</summary>
    Failed,
}

/// <summary>A sandbox call that did not succeed, with the failure its run recorded.</summary>
public sealed class SandboxCallException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SandboxCallException(SandboxErrorKind kind, string message, string? instanceId = null, TaskFailureDetails? failure = null, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        InstanceId = instanceId;
        Failure = failure;
    }

    /// <summary>The kind of failure.</summary>
    public SandboxErrorKind Kind { get; }

    /// <summary>The run's instance id, when a run was made.</summary>
    public string? InstanceId { get; }

    /// <summary>The failure the run recorded.</summary>
    public TaskFailureDetails? Failure { get; }

    /// <summary>Maps a recorded failure to its kind by the error type the orchestration threw.</summary>
    public static SandboxErrorKind KindOf(TaskFailureDetails? failure)
    {
        var types = new List<string>();
        for (var f = failure; f is not null; f = f.InnerFailure)
        {
            types.Add(f.ErrorType);
        }

        return KindOf(types);
    }

    /// <summary>Maps a failure as the store records it to its kind by the error type the orchestration threw.</summary>
    public static SandboxErrorKind KindOf(FailureDetails? failure)
    {
        var types = new List<string>();
        for (var f = failure; f is not null; f = f.InnerFailure)
        {
            types.Add(f.ErrorType);
        }

        return KindOf(types);
    }

    private static SandboxErrorKind KindOf(List<string> errorTypes)
    {
        foreach (var errorType in errorTypes)
        {
            var kind = errorType switch
            {
                var t when t == typeof(InvalidSandboxArgumentException).FullName => SandboxErrorKind.InvalidArgument,
                var t when t == typeof(SandboxNotFoundException).FullName => SandboxErrorKind.NotFound,
                var t when t == typeof(SandboxAlreadyExistsException).FullName => SandboxErrorKind.AlreadyExists,
                var t when t == typeof(InvalidStateTransitionException).FullName => SandboxErrorKind.FailedPrecondition,
                var t when t == typeof(SandboxPreconditionException).FullName => SandboxErrorKind.FailedPrecondition,
                var t when t == typeof(SandboxOperationCompensatedException).FullName => SandboxErrorKind.Compensated,
                var t when t == typeof(SandboxCleanupRequiredException).FullName => SandboxErrorKind.CleanupRequired,
                _ => (SandboxErrorKind?)null,
            };
            if (kind is { } k)
            {
                return k;
            }
        }

        return SandboxErrorKind.Failed;
    }
}
