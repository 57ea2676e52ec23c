using System.Collections.Concurrent;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using KataWorkflows.Protocol.Ttrpc.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataWorkflows.Protocol.Ttrpc;

/// <summary>
/// A ttrpc server (containerd/ttrpc's wire format, unary calls): dispatches each request to the handler registered
/// for its <c>service/method</c>, runs the requests of a connection concurrently and answers each on its stream as it
/// finishes. An unknown method is answered <see cref="StatusCode.Unimplemented"/>; a request's <c>timeout_nano</c>
/// cancels its handler and is answered <see cref="StatusCode.DeadlineExceeded"/> when it passes. A bad frame (over
/// the size limit, truncated, not a request, not a ttrpc envelope) closes its connection only.
/// </summary>
public sealed class TtrpcServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<(string Service, string Method), TtrpcMethodHandler> _handlers = new();
    private readonly ConcurrentDictionary<long, Task> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger _logger;
    private long _connectionIds;

    /// <summary>Creates a server with no methods.</summary>
    public TtrpcServer(ILogger<TtrpcServer>? logger = null)
    {
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>The registered methods, as <c>service/method</c>, sorted.</summary>
    public IReadOnlyList<string> Methods =>
        _handlers.Keys.Select(k => $"{k.Service}/{k.Method}").Order(StringComparer.Ordinal).ToList();

    /// <summary>Registers (or replaces) the handler of a method, working on serialized messages.</summary>
    public void Register(string service, string method, TtrpcMethodHandler handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentNullException.ThrowIfNull(handler);
        _handlers[(service, method)] = handler;
    }

    /// <summary>
    /// Registers (or replaces) the handler of a method, working on protobuf messages. A request that does not parse
    /// is answered <see cref="StatusCode.InvalidArgument"/>.
    /// </summary>
    public void Register<TRequest, TResponse>(
        string service,
        string method,
        MessageParser<TRequest> requestParser,
        Func<TRequest, TtrpcCallContext, CancellationToken, Task<TResponse>> handler)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage
    {
        ArgumentNullException.ThrowIfNull(requestParser);
        ArgumentNullException.ThrowIfNull(handler);
        Register(service, method, async (context, payload, cancellationToken) =>
        {
            TRequest request;
            try
            {
                request = requestParser.ParseFrom(payload.Span);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new TtrpcException(StatusCode.InvalidArgument, $"the request is not a valid {typeof(TRequest).Name}: {e.Message}");
            }

            var response = await handler(request, context, cancellationToken).ConfigureAwait(false);
            return response.ToByteArray();
        });
    }

    /// <summary>
    /// Accepts connections on a listening socket and serves each until it ends, until the token is cancelled or the
    /// server is disposed. The caller owns the listener.
    /// </summary>
    public async Task ServeAsync(Socket listener, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(listener);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        var served = new List<Task>();
        while (!stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.OperationAborted)
            {
                break;
            }
            catch (SocketException e)
            {
                Log.TtrpcAcceptFailed(_logger, e);
                await Task.Delay(TimeSpan.FromMilliseconds(100), stop.Token).ConfigureAwait(false);
                continue;
            }

            var connection = new NetworkStream(socket, ownsSocket: true);
            served.RemoveAll(t => t.IsCompleted);
            served.Add(Track(async id =>
            {
                try
                {
                    await ServeCoreAsync(id, connection, stop.Token).ConfigureAwait(false);
                }
                catch (TtrpcProtocolException)
                {
                    // Logged by ServeCoreAsync; only that connection ends.
                }
            }));
        }

        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(served).ConfigureAwait(false);
    }

    /// <summary>
    /// Serves one connection (a socket, a virtio-serial port) until the peer closes it, the token is cancelled or the
    /// server is disposed; the server owns the stream and closes it at the end. Requests in flight are cancelled
    /// when the connection ends, and the call returns once they have finished.
    /// </summary>
    /// <exception cref="TtrpcProtocolException">The connection carried a bad frame and was closed.</exception>
    public Task ServeConnectionAsync(Stream connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return Track(id => ServeCoreAsync(id, connection, cancellationToken));
    }

    /// <summary>Stops serving: ends every connection, cancels the requests in flight and waits for them.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var connection in _connections.Values)
        {
            try
            {
                await connection.ConfigureAwait(false);
            }
            catch (TtrpcProtocolException)
            {
                // Reported to whoever awaits that connection.
            }
        }
    }

    private static Response Error(StatusCode code, string message) =>
        new() { Status = new Wire.Status { Code = (int)code, Message = message } };

    private static TimeSpan? TimeoutOf(Request request) =>
        request.TimeoutNano <= 0
            ? null
            : TimeSpan.FromTicks(Math.Max(1, request.TimeoutNano / TimeSpan.NanosecondsPerTick));

    private Task Track(Func<long, Task> run)
    {
        var id = Interlocked.Increment(ref _connectionIds);
        var task = new Task<Task>(() => run(id));
        var unwrapped = task.Unwrap();
        _connections[id] = unwrapped;
        _ = unwrapped.ContinueWith(_ => _connections.TryRemove(id, out Task? _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        task.Start(TaskScheduler.Default);
        return unwrapped;
    }

    private async Task ServeCoreAsync(long id, Stream stream, CancellationToken cancellationToken)
    {
        var name = $"#{id}";
        using var end = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        using var writer = new TtrpcFrameWriter(stream);
        var reader = new TtrpcFrameReader(stream);
        var connection = new Connection(writer, end.Token);
        TtrpcProtocolException? fault = null;
        var reason = "the client closed the connection";
        try
        {
            while (true)
            {
                var frame = await reader.ReadAsync(end.Token).ConfigureAwait(false);
                if (frame is null)
                {
                    break;
                }

                Accept(connection, frame);
            }
        }
        catch (TtrpcProtocolException e)
        {
            fault = e;
            reason = e.Message;
            if (e is { FrameTooLarge: true, StreamId: { } streamId })
            {
                // Tell the caller why before hanging up, as containerd's server does; the data itself is never read.
                await TrySendAsync(connection, streamId, Error(StatusCode.ResourceExhausted, e.Message)).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (end.IsCancellationRequested)
        {
            reason = "the server stopped serving it";
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
            reason = $"reading failed: {e.Message}";
        }
        finally
        {
            await end.CancelAsync().ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
            await connection.DrainAsync().ConfigureAwait(false);
        }

        if (fault is not null)
        {
            Log.TtrpcBadFrame(_logger, name, reason);
            throw fault;
        }

        Log.TtrpcConnectionEnded(_logger, name, reason);
    }

    private void Accept(Connection connection, TtrpcFrame frame)
    {
        if (frame.Type != TtrpcMessageType.Request)
        {
            throw new TtrpcProtocolException($"The ttrpc client sent a {frame.Type} frame on stream {frame.StreamId}; only unary requests are served.")
            {
                StreamId = frame.StreamId,
            };
        }

        if (frame.StreamId % 2 == 0)
        {
            throw new TtrpcProtocolException($"The ttrpc client opened stream {frame.StreamId}; client streams must have odd ids.")
            {
                StreamId = frame.StreamId,
            };
        }

        Request request;
        try
        {
            request = Request.Parser.ParseFrom(frame.Data.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new TtrpcProtocolException($"The ttrpc client's frame on stream {frame.StreamId} is not a ttrpc Request: {e.Message}", e)
            {
                StreamId = frame.StreamId,
            };
        }

        if (!connection.TryBegin(frame.StreamId))
        {
            throw new TtrpcProtocolException($"The ttrpc client reused stream {frame.StreamId} while its call is still running.")
            {
                StreamId = frame.StreamId,
            };
        }

        var streamId = frame.StreamId;
        var flags = frame.Flags;
        connection.Run(streamId, Task.Run(() => HandleAsync(connection, streamId, flags, request)));
    }

    private async Task HandleAsync(Connection connection, uint streamId, byte flags, Request request)
    {
        Response? response;
        try
        {
            response = await AnswerAsync(connection, streamId, flags, request).ConfigureAwait(false);
        }
        finally
        {
            // The stream is free before its answer goes out: a client that got the answer may open the same id at
            // once (a virtio-serial host that dialled again starts over at stream 1, on what the guest sees as the
            // same byte stream), and that is a new call, not a reuse.
            connection.End(streamId);
        }

        if (response is not null)
        {
            await TrySendAsync(connection, streamId, response).ConfigureAwait(false);
        }
    }

    private async Task<Response?> AnswerAsync(Connection connection, uint streamId, byte flags, Request request)
    {
        if (flags != 0)
        {
            return Error(StatusCode.Unimplemented, $"{request.Service}/{request.Method}: streaming requests (flags 0x{flags:x2}) are not supported");
        }

        if (!_handlers.TryGetValue((request.Service, request.Method), out var handler))
        {
            return Error(
                StatusCode.Unimplemented,
                _handlers.Keys.Any(k => k.Service == request.Service)
                    ? $"method {request.Method} of service {request.Service} is not implemented"
                    : $"service {request.Service} is not implemented (method {request.Method})");
        }

        var timeout = TimeoutOf(request);
        var context = new TtrpcCallContext(
            request.Service,
            request.Method,
            streamId,
            timeout,
            request.Metadata.Select(m => KeyValuePair.Create(m.Key, m.Value)).ToList());
        using var call = CancellationTokenSource.CreateLinkedTokenSource(connection.Ending);
        if (timeout is { } limit)
        {
            // CancelAfter takes at most 2^32-2 ms (about 49 days); a longer timeout is as good as none.
            if (limit.TotalMilliseconds < uint.MaxValue - 1)
            {
                call.CancelAfter(limit);
            }
        }

        Task<ReadOnlyMemory<byte>> work;
        try
        {
            work = handler(context, request.Payload.Memory, call.Token);
        }
        catch (Exception e)
        {
            work = Task.FromException<ReadOnlyMemory<byte>>(e);
        }

        try
        {
            var payload = await work.WaitAsync(call.Token).ConfigureAwait(false);
            return new Response { Payload = ByteString.CopyFrom(payload.Span) };
        }
        catch (TtrpcException e)
        {
            return Error(e.StatusCode == StatusCode.OK ? StatusCode.Unknown : e.StatusCode, e.StatusMessage);
        }
        catch (OperationCanceledException) when (connection.Ending.IsCancellationRequested)
        {
            // The connection is gone: nobody to answer.
            return null;
        }
        catch (OperationCanceledException) when (call.IsCancellationRequested)
        {
            if (!work.IsCompleted)
            {
                Log.TtrpcHandlerTimedOut(_logger, request.Service, request.Method, timeout!.Value);
                _ = work.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }

            return Error(StatusCode.DeadlineExceeded, $"{request.Service}/{request.Method} did not finish within the caller's timeout of {timeout}");
        }
#pragma warning disable CA1031 // A handler's failure is the caller's answer, whatever its type.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.TtrpcHandlerFailed(_logger, request.Service, request.Method, e);
            return Error(StatusCode.Unknown, e.Message);
        }
    }

    private static async Task TrySendAsync(Connection connection, uint streamId, Response response)
    {
        var data = response.ToByteArray();
        if (data.Length > TtrpcFrame.MaxDataLength)
        {
            data = Error(
                StatusCode.ResourceExhausted,
                $"the response is {data.Length} bytes, over ttrpc's limit of {TtrpcFrame.MaxDataLength} bytes").ToByteArray();
        }

        try
        {
            await connection.Writer.WriteAsync(streamId, TtrpcMessageType.Response, 0, data, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or NotSupportedException)
        {
            // The connection closed under the answer; the client sees the connection end instead.
        }
    }

    private sealed class Connection(TtrpcFrameWriter writer, CancellationToken ending)
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<uint, Task?> _calls = [];

        public TtrpcFrameWriter Writer { get; } = writer;

        public CancellationToken Ending { get; } = ending;

        public bool TryBegin(uint streamId)
        {
            lock (_gate)
            {
                return _calls.TryAdd(streamId, null);
            }
        }

        public void Run(uint streamId, Task call)
        {
            lock (_gate)
            {
                // The call may have finished (and left) already; only a call still listed is tracked.
                if (_calls.ContainsKey(streamId))
                {
                    _calls[streamId] = call;
                }
            }
        }

        public void End(uint streamId)
        {
            lock (_gate)
            {
                _calls.Remove(streamId);
            }
        }

        public async Task DrainAsync()
        {
            Task[] running;
            lock (_gate)
            {
                running = _calls.Values.OfType<Task>().ToArray();
            }

            await Task.WhenAll(running).ConfigureAwait(false);
        }
    }
}
