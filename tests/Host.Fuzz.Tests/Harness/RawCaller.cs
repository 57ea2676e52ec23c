using System.Diagnostics;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Net.Client;

namespace KataWorkflows.Host.Fuzz.Tests.Harness;

/// <summary>
/// gRPC calls whose request is bytes the test built itself: a byte marshaller sends them as they are, so invalid
/// protobuf, invalid UTF-8 and wrong wire types reach the server's own parser.
/// </summary>
internal sealed class RawCaller
{
    public static readonly RawMethod HealthCheck = new("grpc.health.v1.Health", "Check", Streaming: false);

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);

    private readonly CallInvoker _invoker;

    public RawCaller(GrpcChannel channel) => _invoker = channel.CreateCallInvoker();

    /// <summary>Calls <paramref name="method"/> with <paramref name="request"/> and a deadline; never throws for a status.</summary>
    public async Task<CallOutcome> CallAsync(RawMethod method, byte[] request, TimeSpan deadline, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(method);
        var options = new CallOptions(deadline: DateTime.UtcNow + deadline, cancellationToken: cancellationToken);
        var started = Stopwatch.GetTimestamp();
        var responses = new List<byte[]>();
        try
        {
            if (method.Streaming)
            {
                var m = new Method<byte[], byte[]>(MethodType.ServerStreaming, method.Service, method.Name, Bytes, Bytes);
                using var call = _invoker.AsyncServerStreamingCall(m, null, options, request);
                while (await call.ResponseStream.MoveNext(cancellationToken))
                {
                    responses.Add(call.ResponseStream.Current);
                }

                return new CallOutcome(StatusCode.OK, string.Empty, Stopwatch.GetElapsedTime(started), responses, call.GetTrailers(), null);
            }
            else
            {
                var m = new Method<byte[], byte[]>(MethodType.Unary, method.Service, method.Name, Bytes, Bytes);
                using var call = _invoker.AsyncUnaryCall(m, null, options, request);
                responses.Add(await call.ResponseAsync);
                return new CallOutcome(StatusCode.OK, string.Empty, Stopwatch.GetElapsedTime(started), responses, call.GetTrailers(), null);
            }
        }
        catch (RpcException ex)
        {
            return new CallOutcome(ex.StatusCode, ex.Status.Detail, Stopwatch.GetElapsedTime(started), responses, ex.Trailers, ex.Status.DebugException);
        }
    }
}

/// <summary>A method as the wire names it: <c>/service/name</c>.</summary>
internal sealed record RawMethod(string Service, string Name, bool Streaming, MessageDescriptor? Input = null, MessageDescriptor? Output = null)
{
    public static RawMethod Of(MethodDescriptor method)
    {
        ArgumentNullException.ThrowIfNull(method);
        return new RawMethod(method.Service.FullName, method.Name, method.IsServerStreaming, method.InputType, method.OutputType);
    }

    public override string ToString() => $"{Service}/{Name}";
}

/// <summary>How one call ended: its status and detail, how long it took, the response messages, the trailers.</summary>
internal sealed record CallOutcome(
    StatusCode Status, string Detail, TimeSpan Elapsed, IReadOnlyList<byte[]> Responses, Metadata? Trailers, Exception? ClientException)
{
    /// <summary>The single response of a unary call.</summary>
    public byte[]? Response => Responses.Count > 0 ? Responses[0] : null;
}
