using Grpc.Core;
using KataWorkflows.Engine;

namespace KataWorkflows.Activities.Agents.Kata;

/// <summary>
/// The Kata agent answered a call with a permanent error (<see cref="KataAgentException.IsPermanentStatus"/>: a
/// container that does not exist or already does, a sandbox not yet created, a request it refuses or cannot serve).
/// The same request would get the same answer, so the failure is non-retriable: a retry policy does not retry it.
/// </summary>
public sealed class KataAgentRejectedException : KataAgentException, INonRetriable
{
    /// <summary>Creates the exception.</summary>
    public KataAgentRejectedException(string sandboxId, string socketPath, string? rpc, StatusCode statusCode, string message, Exception? innerException = null)
        : base(sandboxId, socketPath, rpc, statusCode, message, innerException)
    {
    }

    /// <summary>Creates an exception with no details.</summary>
    public KataAgentRejectedException()
        : this(string.Empty, string.Empty, null, StatusCode.FailedPrecondition, "The Kata agent refused the call.")
    {
    }

    /// <summary>Creates an exception with only a message.</summary>
    public KataAgentRejectedException(string message)
        : this(string.Empty, string.Empty, null, StatusCode.FailedPrecondition, message)
    {
    }

    /// <summary>Creates an exception with only a message and its cause.</summary>
    public KataAgentRejectedException(string message, Exception innerException)
        : this(string.Empty, string.Empty, null, StatusCode.FailedPrecondition, message, innerException)
    {
    }
}
