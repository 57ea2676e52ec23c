using Grpc.Core;

namespace KataWorkflows.Activities.Agents.Kata;

/// <summary>
/// A call to a sandbox's Kata agent failed: the guest did not answer (no connection on the socket, the connection
/// dropped, the call's timeout passed) or it answered with an error status. The message names the sandbox, the
/// socket and the RPC.
/// </summary>
public sealed class KataAgentException : Exception
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
}
