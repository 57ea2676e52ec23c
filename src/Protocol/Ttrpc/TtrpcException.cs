using Grpc.Core;

namespace KataWorkflows.Protocol.Ttrpc;

/// <summary>
/// A ttrpc call failed: the server answered with an error status, the call ran out of time, or the connection
/// went away before the answer came. <see cref="StatusCode"/> is the gRPC status code (the codes ttrpc carries in
/// <c>google.rpc.Status</c>); a handler throws this exception to answer with a given status.
/// </summary>
public sealed class TtrpcException : Exception
{
    /// <summary>Creates the exception for a status, naming the call it ended.</summary>
    public TtrpcException(StatusCode statusCode, string statusMessage, string? service = null, string? method = null)
        : base(Describe(statusCode, statusMessage, service, method))
    {
        StatusCode = statusCode;
        StatusMessage = statusMessage ?? string.Empty;
        Service = service;
        Method = method;
    }

    /// <summary>Creates the exception for a status with its cause.</summary>
    public TtrpcException(StatusCode statusCode, string statusMessage, string? service, string? method, Exception innerException)
        : base(Describe(statusCode, statusMessage, service, method), innerException)
    {
        StatusCode = statusCode;
        StatusMessage = statusMessage ?? string.Empty;
        Service = service;
        Method = method;
    }

    /// <summary>Creates an <see cref="Grpc.Core.StatusCode.Unknown"/> exception.</summary>
    public TtrpcException()
        : this(StatusCode.Unknown, "The ttrpc call failed.")
    {
    }

    /// <summary>Creates an <see cref="Grpc.Core.StatusCode.Unknown"/> exception with a message.</summary>
    public TtrpcException(string message)
        : this(StatusCode.Unknown, message)
    {
    }

    /// <summary>Creates an <see cref="Grpc.Core.StatusCode.Unknown"/> exception with a message and its cause.</summary>
    public TtrpcException(string message, Exception innerException)
        : this(StatusCode.Unknown, message, null, null, innerException)
    {
    }

    /// <summary>The gRPC status code.</summary>
    public StatusCode StatusCode { get; }

    /// <summary>The status message (the server's own words for a status it sent).</summary>
    public string StatusMessage { get; }

    /// <summary>The service called (<c>grpc.AgentService</c>), when known.</summary>
    public string? Service { get; }

    /// <summary>The method called (<c>CreateContainer</c>), when known.</summary>
    public string? Method { get; }

    /// <summary>
    /// Whether the request may have reached the server. <see langword="false"/> only when the client knows it did not:
    /// the connection was already closed, or writing the request failed. Such a call is safe to retry on a new
    /// connection, whatever the method.
    /// </summary>
    public bool RequestSent { get; init; } = true;

    private static string Describe(StatusCode code, string message, string? service, string? method) =>
        service is null && method is null
            ? $"{code}: {message}"
            : $"ttrpc call {service}/{method} failed with {code}: {message}";
}
