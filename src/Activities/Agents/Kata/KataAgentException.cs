using Grpc.Core;

namespace KataWorkflows.Activities.Agents.Kata;

/// <summary>
/// A call to a sandbox's Kata agent failed: the guest did not answer (no connection on the socket, the connection
/// dropped, the call's timeout passed) or it answered with an error status. The message names the sandbox, the
/// socket and the RPC. This type is for failures a later attempt may not meet (the guest still booting, a channel
/// that dropped, a timeout, an agent's internal error); an answer that no retry can change is a
/// <see cref="KataAgentRejectedException"/>, which retry policies do not retry (<see cref="IsPermanent"/>).
/// </summary>
public class KataAgentException : Exception
{
    /// <summary>Creates the exception.</summary>
    public KataAgentException(string sandboxId, string socketPath, string? rpc, StatusCode statusCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        SandboxId = sandboxId;
        SocketPath = socketPath;
        Rpc = rpc;
        StatusCode = statusCode;
    }

    /// <summary>Creates an exception with only a message.</summary>
    public KataAgentException()
        : this(string.Empty, string.Empty, null, StatusCode.Unknown, "The Kata agent call failed.")
    {
    }

    /// <summary>Creates an exception with only a message.</summary>
    public KataAgentException(string message)
        : this(string.Empty, string.Empty, null, StatusCode.Unknown, message)
    {
    }

    /// <summary>Creates an exception with only a message and its cause.</summary>
    public KataAgentException(string message, Exception innerException)
        : this(string.Empty, string.Empty, null, StatusCode.Unknown, message, innerException)
    {
    }

    /// <summary>The sandbox whose agent was called.</summary>
    public string SandboxId { get; }

    /// <summary>The agent socket on the host.</summary>
    public string SocketPath { get; }

    /// <summary>The RPC (<c>grpc.AgentService/CreateContainer</c>), or <see langword="null"/> when no connection was made.</summary>
    public string? Rpc { get; }

    /// <summary>
    /// The gRPC status: the agent's own for an error it answered; <see cref="StatusCode.Unavailable"/> when there was
    /// no connection or it dropped; <see cref="StatusCode.DeadlineExceeded"/> when the call's timeout passed.
    /// </summary>
    public StatusCode StatusCode { get; }

    /// <summary>Whether the failure is the agent's final word on the request (<see cref="IsPermanentStatus"/>).</summary>
    public bool IsPermanent => IsPermanentStatus(StatusCode);

    /// <summary>
    /// Whether an agent's answer with this code means the same request would fail again: the request or the state it
    /// names is wrong (<see cref="StatusCode.InvalidArgument"/>, <see cref="StatusCode.NotFound"/>,
    /// <see cref="StatusCode.AlreadyExists"/>, <see cref="StatusCode.FailedPrecondition"/>,
    /// <see cref="StatusCode.OutOfRange"/>), the agent cannot do it (<see cref="StatusCode.Unimplemented"/>) or
    /// refuses it (<see cref="StatusCode.PermissionDenied"/>, <see cref="StatusCode.Unauthenticated"/>). Every other
    /// code (Unavailable, DeadlineExceeded, ResourceExhausted, Aborted, Cancelled, Internal, Unknown, DataLoss) may
    /// pass.
    /// </summary>
    public static bool IsPermanentStatus(StatusCode statusCode) => statusCode is StatusCode.InvalidArgument or StatusCode.NotFound
        or StatusCode.AlreadyExists or StatusCode.FailedPrecondition or StatusCode.OutOfRange or StatusCode.Unimplemented
        or StatusCode.PermissionDenied or StatusCode.Unauthenticated;

    /// <summary>
    /// The exception for a failed call: a <see cref="KataAgentRejectedException"/> when the status is permanent, else
    /// a <see cref="KataAgentException"/>.
    /// </summary>
    public static KataAgentException For(string sandboxId, string socketPath, string? rpc, StatusCode statusCode, string message, Exception? innerException = null) =>
        IsPermanentStatus(statusCode)
            ? new KataAgentRejectedException(sandboxId, socketPath, rpc, statusCode, message, innerException)
            : new KataAgentException(sandboxId, socketPath, rpc, statusCode, message, innerException);
}
