namespace KataWorkflows.Protocol.Ttrpc;

/// <summary>
/// Answers one ttrpc method: takes the serialized request and returns the serialized response. Throw a
/// <see cref="TtrpcException"/> to answer with its status; any other exception answers
/// <see cref="Grpc.Core.StatusCode.Unknown"/> with its message. The token is cancelled when the caller's timeout
/// passes or the connection ends.
/// </summary>
public delegate Task<ReadOnlyMemory<byte>> TtrpcMethodHandler(TtrpcCallContext context, ReadOnlyMemory<byte> request, CancellationToken cancellationToken);
