using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using KataWorkflows.Protocol.Ttrpc.Wire;

namespace KataWorkflows.Protocol.Ttrpc;

/// <summary>
/// A ttrpc client over one connection (containerd/ttrpc's wire format, unary calls). Calls may run concurrently:
/// each gets the next odd stream id and its response is matched by id, in whatever order the server answers. A call
/// ends with the response, with a <see cref="TtrpcException"/> carrying the server's error status, with
/// <see cref="StatusCode.DeadlineExceeded"/> when its timeout passes (the timeout is also sent to the server as
/// <c>timeout_nano</c>), or with an <see cref="OperationCanceledException"/> when its token is cancelled. When the
/// connection ends (the peer closed it, a bad frame, <see cref="DisposeAsync"/>) every pending call fails with
/// <see cref="StatusCode.Unavailable"/> and so does every later one. A peer that answers a stream the client never
/// opened, or answers one twice, ends the connection (a protocol error): answers it makes up cannot be matched to the
/// calls that wait. So does a request that cannot be written within its call's timeout (a peer that does not read):
/// half a frame may be on the wire. Memory stays bounded whatever the peer sends: one frame of at most 4 MiB is read at
/// a time, and nothing is queued.
/// </summary>
public sealed class TtrpcClient : IAsyncDisposable
{
    /// <summary>
    /// How many streams whose calls gave up (timed out, cancelled) the client remembers, so that each one's late
    /// answer is dropped; a late answer to an older one closes the connection like any unexpected answer.
    /// </summary>
    public const int MaxAbandonedStreams = 1024;

    private readonly Stream _stream;
    private readonly TtrpcFrameReader _reader;
    private readonly TtrpcFrameWriter _writer;
    private readonly Lock _gate = new();
    private readonly Dictionary<uint, PendingCall> _pending = [];

    // Streams whose call ended without an answer (timeout, cancellation): the answer may still come, once. Bounded,
    // oldest forgotten first, so a peer that never answers cannot make the client remember without end.
    private readonly HashSet<uint> _abandoned = [];
    private readonly Queue<uint> _abandonedOrder = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly Task _readLoop;
    private uint _lastStreamId = uint.MaxValue;
    private bool _anyStreamOpened;
    private string? _closedReason;

    /// <summary>Starts a client over a connected stream; the client owns the stream and closes it at the end.</summary>
    public TtrpcClient(Stream connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _stream = connection;
        _reader = new TtrpcFrameReader(connection);
        _writer = new TtrpcFrameWriter(connection);
        _readLoop = Task.Run(ReadLoopAsync);
    }

    /// <summary>Whether the connection is still open.</summary>
    public bool IsConnected
    {
        get
        {
            lock (_gate)
            {
                return _closedReason is null;
            }
        }
    }

    /// <summary>Why the connection ended (<see langword="null"/> while it is open).</summary>
    public string? ClosedReason
    {
        get
        {
            lock (_gate)
            {
                return _closedReason;
            }
        }
    }

    /// <summary>Completes when the connection has ended and every pending call has failed.</summary>
    public Task Completion => _readLoop;

    /// <summary>Connects to a ttrpc server listening on a Unix socket.</summary>
    /// <exception cref="SocketException">Nothing listens on the path (or it is not a socket).</exception>
    public static async Task<TtrpcClient> ConnectUnixAsync(string socketPath, CancellationToken cancellationToken)
    {
        var stream = await TtrpcUnixSocket.ConnectAsync(socketPath, cancellationToken).ConfigureAwait(false);
        return new TtrpcClient(stream);
    }

    /// <summary>Calls a method with a protobuf request and parses the response.</summary>
    /// <param name="service">The service name (<c>grpc.AgentService</c>).</param>
    /// <param name="method">The method name (<c>CreateContainer</c>).</param>
    /// <param name="request">The request message.</param>
    /// <param name="responseParser">The response type's parser.</param>
    /// <param name="timeout">How long to wait for the response; <see langword="null"/> waits as long as the token allows.</param>
    /// <param name="cancellationToken">Cancels the call (the server is not told; its late answer is dropped).</param>
    /// <exception cref="TtrpcException">An error status, the timeout, or the connection's end.</exception>
    public async Task<TResponse> CallAsync<TResponse>(
        string service,
        string method,
        IMessage request,
        MessageParser<TResponse> responseParser,
        TimeSpan? timeout,
        CancellationToken cancellationToken)
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(responseParser);
        var payload = await CallAsync(service, method, request.ToByteArray(), timeout, null, cancellationToken).ConfigureAwait(false);
        try
        {
            return responseParser.ParseFrom(payload.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new TtrpcException(StatusCode.Internal, $"the response is not a valid {typeof(TResponse).Name}: {e.Message}", service, method, e);
        }
    }

    /// <summary>Calls a method with a serialized request and returns the serialized response.</summary>
    /// <param name="service">The service name.</param>
    /// <param name="method">The method name.</param>
    /// <param name="payload">The serialized request.</param>
    /// <param name="timeout">How long to wait for the response; <see langword="null"/> waits as long as the token allows.</param>
    /// <param name="metadata">Key-value pairs sent with the request, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="TtrpcException">An error status, the timeout, the request over the size limit, or the
    /// connection's end.</exception>
    public async Task<ReadOnlyMemory<byte>> CallAsync(
        string service,
        string method,
        ReadOnlyMemory<byte> payload,
        TimeSpan? timeout,
        IEnumerable<KeyValuePair<string, string>>? metadata,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentException.ThrowIfNullOrEmpty(method);
        if (timeout is { } t && t <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "A call's timeout must be positive (or null for none).");
        }

        cancellationToken.ThrowIfCancellationRequested();
        var request = new Request
        {
            Service = service,
            Method = method,
            Payload = ByteString.CopyFrom(payload.Span),
            TimeoutNano = timeout is { } deadline ? ToNanoseconds(deadline) : 0,
        };
        foreach (var (key, value) in metadata ?? [])
        {
            request.Metadata.Add(new KeyValue { Key = key, Value = value });
        }

        var data = request.ToByteArray();
        if (data.Length > TtrpcFrame.MaxDataLength)
        {
            throw new TtrpcException(
                StatusCode.ResourceExhausted,
                $"the request is {data.Length} bytes, over ttrpc's limit of {TtrpcFrame.MaxDataLength} bytes; it was not sent",
                service,
                method);
        }

        var call = new PendingCall(service, method);
        uint streamId;
        lock (_gate)
        {
            if (_closedReason is not null)
            {
                throw Unavailable(service, method, _closedReason, requestSent: false);
            }

            streamId = _lastStreamId += 2;
            _anyStreamOpened = true;
            _pending.Add(streamId, call);
        }

        using var timeoutCts = timeout is null ? null : new CancellationTokenSource(timeout.Value);
        using var callCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutCts?.Token ?? CancellationToken.None);
        try
        {
            try
            {
                await _writer.WriteAsync(streamId, TtrpcMessageType.Request, 0, data, callCts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_writer.IsBroken)
            {
                // Cancelled part way through the frame (a peer that does not read lets a write wait for ever): the
                // stream may hold half a request, so no later frame can follow it on this connection.
                Close($"a request could not be written in time: {_writer.BrokenReason}");
                if (timeoutCts?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
                {
                    throw new TtrpcException(StatusCode.DeadlineExceeded, $"no response within {timeout}: the request could not even be written (the peer is not reading)", service, method);
                }

                throw;
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
            {
                Close($"sending failed: {e.Message}");
                throw Unavailable(service, method, ClosedReason ?? e.Message, requestSent: false);
            }

            var response = await call.Completion.Task.WaitAsync(callCts.Token).ConfigureAwait(false);
            if (response.Status is { Code: not 0 } status)
            {
                throw new TtrpcException((StatusCode)status.Code, status.Message, service, method);
            }

            return response.Payload.Memory;
        }
        catch (OperationCanceledException) when (timeoutCts?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            throw new TtrpcException(StatusCode.DeadlineExceeded, $"no response within {timeout}", service, method);
        }
        finally
        {
            lock (_gate)
            {
                if (_pending.Remove(streamId) && _closedReason is null)
                {
                    Abandon(streamId);
                }
            }
        }
    }

    /// <summary>Closes the connection; pending calls fail with <see cref="StatusCode.Unavailable"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        Close("the client was disposed");
        await _readLoop.ConfigureAwait(false);
        _writer.Dispose();
        _closing.Dispose();
    }

    private static long ToNanoseconds(TimeSpan timeout) =>
        timeout.Ticks > long.MaxValue / TimeSpan.NanosecondsPerTick ? long.MaxValue : timeout.Ticks * TimeSpan.NanosecondsPerTick;

    private static TtrpcException Unavailable(string service, string method, string reason, bool requestSent = true) =>
        new(StatusCode.Unavailable, $"the ttrpc connection is closed ({reason})", service, method) { RequestSent = requestSent };

    private async Task ReadLoopAsync()
    {
        var reason = "the server closed the connection";
        try
        {
            while (true)
            {
                var frame = await _reader.ReadAsync(_closing.Token).ConfigureAwait(false);
                if (frame is null)
                {
                    break;
                }

                if (frame.Type != TtrpcMessageType.Response)
                {
                    throw new TtrpcProtocolException($"The ttrpc server sent a {frame.Type} frame on stream {frame.StreamId}; a client expects only responses.")
                    {
                        StreamId = frame.StreamId,
                    };
                }

                Response response;
                try
                {
                    response = Response.Parser.ParseFrom(frame.Data.Span);
                }
                catch (InvalidProtocolBufferException e)
                {
                    throw new TtrpcProtocolException($"The ttrpc server's frame on stream {frame.StreamId} is not a ttrpc Response: {e.Message}", e)
                    {
                        StreamId = frame.StreamId,
                    };
                }

                PendingCall? call;
                lock (_gate)
                {
                    if (frame.StreamId % 2 == 0 || !_anyStreamOpened || frame.StreamId > _lastStreamId)
                    {
                        // A peer that makes answers up is not to be trusted with the calls that are waiting.
                        throw new TtrpcProtocolException($"The ttrpc server answered stream {frame.StreamId}, which this client never opened.")
                        {
                            StreamId = frame.StreamId,
                        };
                    }

                    if (!_pending.Remove(frame.StreamId, out call) && !_abandoned.Remove(frame.StreamId))
                    {
                        // Neither a call waiting nor the one late answer of a call that gave up: a second answer.
                        throw new TtrpcProtocolException($"The ttrpc server answered stream {frame.StreamId} again, or after it was forgotten; no call is waiting on it.")
                        {
                            StreamId = frame.StreamId,
                        };
                    }
                }

                // No pending call: it timed out or was cancelled, and this is its late answer, dropped.
                call?.Completion.TrySetResult(response);
            }
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
        }
        catch (TtrpcProtocolException e)
        {
            reason = e.Message;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
            reason = $"reading failed: {e.Message}";
        }

        Close(reason);
    }

    /// <summary>Remembers a stream whose call gave up, so its late answer is dropped; called under the gate.</summary>
    private void Abandon(uint streamId)
    {
        if (_abandoned.Add(streamId))
        {
            _abandonedOrder.Enqueue(streamId);
        }

        while (_abandonedOrder.Count > MaxAbandonedStreams)
        {
            _abandoned.Remove(_abandonedOrder.Dequeue());
        }
    }

    private void Close(string reason)
    {
        List<PendingCall> failed;
        lock (_gate)
        {
            if (_closedReason is not null)
            {
                return;
            }

            _closedReason = reason;
            failed = [.. _pending.Values];
            _pending.Clear();
        }

        _closing.Cancel();
        _stream.Dispose();
        foreach (var call in failed)
        {
            call.Completion.TrySetException(Unavailable(call.Service, call.Method, reason));
        }
    }

    private sealed class PendingCall(string service, string method)
    {
        public string Service { get; } = service;

        public string Method { get; } = method;

        public TaskCompletionSource<Response> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
