using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Ttrpc;

namespace KataWorkflows.Protocol.Tests.Ttrpc;

/// <summary>A TtrpcClient and a TtrpcServer on the two ends of a Unix socket.</summary>
public sealed class TtrpcCallTests
{
    private const string Health = "grpc.Health";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_request_gets_its_response_with_the_context_the_client_sent()
    {
        await using var server = new TtrpcServer();
        TtrpcCallContext? seen = null;
        server.Register(Health, "Check", CheckRequest.Parser, (request, context, _) =>
        {
            seen = context;
            return Task.FromResult(new HealthCheckResponse
            {
                Status = request.Service == "agent" ? HealthCheckResponse.Types.ServingStatus.Serving : HealthCheckResponse.Types.ServingStatus.NotServing,
            });
        });
        await using var pair = await SocketPair.CreateAsync(Ct);
        var serving = server.ServeConnectionAsync(pair.Server, Ct);
        await using var client = new TtrpcClient(pair.Client);

        var response = await client.CallAsync(Health, "Check", new CheckRequest { Service = "agent" }, HealthCheckResponse.Parser, TimeSpan.FromSeconds(30), Ct);
        var raw = await client.CallAsync(Health, "Check", new CheckRequest { Service = "other" }.ToByteArray(), null, [KeyValuePair.Create("k", "v")], Ct);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, HealthCheckResponse.Parser.ParseFrom(raw.Span).Status);
        Assert.NotNull(seen);
        Assert.Equal((Health, "Check", 3u), (seen.Service, seen.Method, seen.StreamId));
        Assert.Null(seen.Timeout);
        Assert.Equal([KeyValuePair.Create("k", "v")], seen.Metadata);

        await client.DisposeAsync();
        await serving.WaitAsync(Patience, Ct);
    }

    [Fact]
    public async Task Many_concurrent_calls_on_one_connection_each_get_their_own_answer_when_answered_out_of_order()
    {
        const int Calls = 64;
        await using var server = new TtrpcServer();
        var gates = new ConcurrentDictionary<string, TaskCompletionSource>();
        var arrived = new ConcurrentQueue<uint>();
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Register(Health, "Version", CheckRequest.Parser, async (request, context, cancellationToken) =>
        {
            var gate = gates.GetOrAdd(request.Service, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            arrived.Enqueue(context.StreamId);
            if (arrived.Count == Calls)
            {
                allArrived.TrySetResult();
            }

            await gate.Task.WaitAsync(cancellationToken);
            return new VersionCheckResponse { AgentVersion = "v-" + request.Service };
        });
        await using var pair = await SocketPair.CreateAsync(Ct);
        _ = server.ServeConnectionAsync(pair.Server, Ct);
        await using var client = new TtrpcClient(pair.Client);

        var calls = Enumerable.Range(0, Calls)
            .Select(i => client.CallAsync(Health, "Version", new CheckRequest { Service = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }, VersionCheckResponse.Parser, null, Ct))
            .ToList();
        await allArrived.Task.WaitAsync(Patience, Ct);

        // Every call is in the server at once; answer them last first.
        var finished = new List<int>();
        for (var i = Calls - 1; i >= 0; i--)
        {
            gates[i.ToString(System.Globalization.CultureInfo.InvariantCulture)].SetResult();
            var response = await calls[i].WaitAsync(Patience, Ct);
            Assert.Equal($"v-{i}", response.AgentVersion);
            finished.Add(i);
            Assert.All(calls.Take(i), c => Assert.False(c.IsCompleted));
        }

        var ids = arrived.ToArray();
        Assert.Equal(Calls, ids.Distinct().Count());
        Assert.All(ids, id => Assert.Equal(1u, id % 2));
    }

    [Fact]
    public async Task An_error_status_reaches_the_caller_with_its_code_and_message()
    {
        await using var server = new TtrpcServer();
        server.Register(Health, "Check", CheckRequest.Parser, (request, _, _) =>
            request.Service == "typed"
                ? throw new TtrpcException(StatusCode.NotFound, "container c1 does not exist")
                : Task.FromException<HealthCheckResponse>(new InvalidOperationException("the agent broke")));
        await using var pair = await SocketPair.CreateAsync(Ct);
        _ = server.ServeConnectionAsync(pair.Server, Ct);
        await using var client = new TtrpcClient(pair.Client);

        var typed = await Assert.ThrowsAsync<TtrpcException>(
            () => client.CallAsync(Health, "Check", new CheckRequest { Service = "typed" }, HealthCheckResponse.Parser, null, Ct));
        var untyped = await Assert.ThrowsAsync<TtrpcException>(
            () => client.CallAsync(Health, "Check", new CheckRequest { Service = "other" }, HealthCheckResponse.Parser, null, Ct));

        Assert.Equal(StatusCode.NotFound, typed.StatusCode);
        Assert.Equal("container c1 does not exist", typed.StatusMessage);
        Assert.Equal("ttrpc call grpc.Health/Check failed with NotFound: container c1 does not exist", typed.Message);
        Assert.Equal(StatusCode.Unknown, untyped.StatusCode);
        Assert.Equal("the agent broke", untyped.StatusMessage);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task An_unknown_method_or_service_is_answered_Unimplemented()
    {
        await using var server = new TtrpcServer();
        server.Register(Health, "Check", CheckRequest.Parser, (_, _, _) => Task.FromResult(new HealthCheckResponse()));
        await using var pair = await SocketPair.CreateAsync(Ct);
        _ = server.ServeConnectionAsync(pair.Server, Ct);
        await using var client = new TtrpcClient(pair.Client);

        var method = await Assert.ThrowsAsync<TtrpcException>(
            () => client.CallAsync(Health, "Watch", new CheckRequest(), HealthCheckResponse.Parser, null, Ct));
        var service = await Assert.ThrowsAsync<TtrpcException>(
            () => client.CallAsync("grpc.AgentService", "CreateContainer", new CreateContainerRequest(), HealthCheckResponse.Parser, null, Ct));
        var works = await client.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct);

        Assert.Equal(StatusCode.Unimplemented, method.StatusCode);
        Assert.Equal("method Watch of service grpc.Health is not implemented", method.StatusMessage);
        Assert.Equal(StatusCode.Unimplemented, service.StatusCode);
        Assert.Equal("service grpc.AgentService is not implemented (method CreateContainer)", service.StatusMessage);
        Assert.NotNull(works);
    }

    [Fact]
    public async Task The_server_cancels_a_handler_at_the_callers_timeout_and_answers_DeadlineExceeded()
    {
        await using var server = new TtrpcServer();
        var cancelled = new TaskCompletionSource<TimeSpan?>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Register(Health, "Check", CheckRequest.Parser, async (_, context, cancellationToken) =>
        {
            using var registration = cancellationToken.Register(() => cancelled.TrySetResult(context.Timeout));
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return new HealthCheckResponse();
        });
        server.Register(Health, "Version", CheckRequest.Parser, async (_, _, _) =>
        {
            // Ignores its token: the answer must not wait for it.
            await Task.Delay(Timeout.Infinite, Ct);
            return new VersionCheckResponse();
        });
        await using var pair = await SocketPair.CreateAsync(Ct);
        _ = server.ServeConnectionAsync(pair.Server, Ct);

        // A raw client, so the deadline that fires is the server's, not a TtrpcClient's own.
        await RawPeer.SendAsync(pair.Client, RawPeer.RequestFrame(1, Health, "Check", new CheckRequest(), timeoutNano: 200_000_000), Ct);
        var first = await RawPeer.ReadResponseAsync(pair.Client, 1, Ct).WaitAsync(Patience, Ct);
        await RawPeer.SendAsync(pair.Client, RawPeer.RequestFrame(3, Health, "Version", new CheckRequest(), timeoutNano: 200_000_000), Ct);
        var second = await RawPeer.ReadResponseAsync(pair.Client, 3, Ct).WaitAsync(Patience, Ct);

        Assert.Equal((int)StatusCode.DeadlineExceeded, first.Status.Code);
        Assert.Equal("grpc.Health/Check did not finish within the caller's timeout of 00:00:00.2000000", first.Status.Message);
        Assert.Equal(TimeSpan.FromMilliseconds(200), await cancelled.Task.WaitAsync(Patience, Ct));
        Assert.Equal((int)StatusCode.DeadlineExceeded, second.Status.Code);
    }

    [Fact]
    public async Task A_call_with_no_answer_fails_DeadlineExceeded_at_its_timeout_and_the_connection_stays_usable()
    {
        await using var pair = await SocketPair.CreateAsync(Ct);
        await using var client = new TtrpcClient(pair.Client);

        var call = client.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, TimeSpan.FromMilliseconds(200), Ct);
        var (id, request) = await RawPeer.ReadRequestAsync(pair.Server, Ct);
        var e = await Assert.ThrowsAsync<TtrpcException>(() => call.WaitAsync(Patience, Ct));

        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
        Assert.Equal(200_000_000, request.TimeoutNano);

        // The late answer is dropped; the next call is matched to its own answer.
        await RawPeer.RespondAsync(pair.Server, id, new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.NotServing }, Ct);
        var next = client.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct);
        var (nextId, _) = await RawPeer.ReadRequestAsync(pair.Server, Ct);
        await RawPeer.RespondAsync(pair.Server, nextId, new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving }, Ct);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await next.WaitAsync(Patience, Ct)).Status);
        Assert.Equal(id + 2, nextId);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task A_cancelled_call_throws_OperationCanceled_and_leaves_the_connection_usable()
    {
        await using var pair = await SocketPair.CreateAsync(Ct);
        await using var client = new TtrpcClient(pair.Client);
        using var cancel = new CancellationTokenSource();

        var call = client.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, null, cancel.Token);
        var (id, _) = await RawPeer.ReadRequestAsync(pair.Server, Ct);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(Patience, Ct));
        await RawPeer.RespondAsync(pair.Server, id, new HealthCheckResponse(), Ct);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task Every_pending_call_fails_Unavailable_when_the_server_disconnects_and_later_calls_fail_at_once()
    {
        await using var pair = await SocketPair.CreateAsync(Ct);
        await using var client = new TtrpcClient(pair.Client);

        var calls = Enumerable.Range(0, 5)
            .Select(_ => client.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct))
            .ToList();
        for (var i = 0; i < calls.Count; i++)
        {
            await RawPeer.ReadRequestAsync(pair.Server, Ct);
        }

        pair.Server.Dispose();

        foreach (var call in calls)
        {
            var e = await Assert.ThrowsAsync<TtrpcException>(() => call.WaitAsync(Patience, Ct));
            Assert.Equal(StatusCode.Unavailable, e.StatusCode);
            Assert.Contains("the server closed the connection", e.Message, StringComparison.Ordinal);
            Assert.True(e.RequestSent);
        }

        await client.Completion.WaitAsync(Patience, Ct);
        Assert.False(client.IsConnected);
        var later = await Assert.ThrowsAsync<TtrpcException>(
            () => client.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct));
        Assert.Equal(StatusCode.Unavailable, later.StatusCode);
        Assert.False(later.RequestSent);
    }

    [Fact]
    public async Task A_server_that_closes_in_the_middle_of_a_response_fails_the_pending_call_with_the_reason()
    {
        await using var pair = await SocketPair.CreateAsync(Ct);
        await using var client = new TtrpcClient(pair.Client);

        var call = client.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct);
        var (id, _) = await RawPeer.ReadRequestAsync(pair.Server, Ct);
        var whole = RawPeer.Frame(id, 2, 0, new byte[40]);
        await RawPeer.SendAsync(pair.Server, whole[..25], Ct);
        pair.Server.Dispose();

        var e = await Assert.ThrowsAsync<TtrpcException>(() => call.WaitAsync(Patience, Ct));
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Contains("middle of the data of a frame on stream 1 (15 of 40 bytes)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_response_frame_over_the_limit_closes_the_client_connection_without_reading_it()
    {
        await using var pair = await SocketPair.CreateAsync(Ct);
        await using var client = new TtrpcClient(pair.Client);

        var call = client.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct);
        var (id, _) = await RawPeer.ReadRequestAsync(pair.Server, Ct);
        var header = RawPeer.Frame(id, 2, 0, [])[..10];
        header[0] = 0x01; // 16 MiB
        await RawPeer.SendAsync(pair.Server, header, Ct);

        var e = await Assert.ThrowsAsync<TtrpcException>(() => call.WaitAsync(Patience, Ct));
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Contains("announces 16777216 bytes of data, over the limit of 4194304 bytes", e.Message, StringComparison.Ordinal);
        Assert.True(await RawPeer.ClosedAsync(pair.Server, Ct).WaitAsync(Patience, Ct));
    }

    [Fact]
    public async Task A_request_over_the_limit_is_refused_before_sending()
    {
        await using var pair = await SocketPair.CreateAsync(Ct);
        await using var client = new TtrpcClient(pair.Client);

        var e = await Assert.ThrowsAsync<TtrpcException>(() => client.CallAsync(
            "grpc.AgentService", "WriteStdin", new WriteStreamRequest { Data = Google.Protobuf.ByteString.CopyFrom(new byte[TtrpcFrame.MaxDataLength]) }, WriteStreamResponse.Parser, null, Ct));

        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task A_peer_that_does_not_read_fails_a_call_at_its_timeout_and_the_connection_is_closed()
    {
        await using var pair = await SocketPair.CreateAsync(Ct);
        await using var client = new TtrpcClient(pair.Client);

        // 3 MiB is far more than the socket buffers hold: the write waits for a reader that never comes.
        var big = new WriteStreamRequest { Data = ByteString.CopyFrom(new byte[3 << 20]) };
        var call = client.CallAsync("grpc.AgentService", "WriteStdin", big, WriteStreamResponse.Parser, TimeSpan.FromMilliseconds(300), Ct);

        var e = await Assert.ThrowsAsync<TtrpcException>(() => call.WaitAsync(Patience, Ct));
        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
        Assert.Contains("the request could not even be written", e.StatusMessage, StringComparison.Ordinal);
        Assert.False(client.IsConnected);
        Assert.Contains("cancelled while it was being written", client.ClosedReason, StringComparison.Ordinal);
        var later = await Assert.ThrowsAsync<TtrpcException>(
            () => client.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct));
        Assert.Equal(StatusCode.Unavailable, later.StatusCode);
        Assert.False(later.RequestSent);
    }

    [Theory]
    [InlineData(7u, "answered stream 7, which this client never opened")]
    [InlineData(2u, "answered stream 2, which this client never opened")]
    public async Task An_answer_on_a_stream_the_client_never_opened_closes_the_connection_and_fails_the_waiting_call(uint streamId, string reason)
    {
        await using var pair = await SocketPair.CreateAsync(Ct);
        await using var client = new TtrpcClient(pair.Client);

        var call = client.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct);
        var (id, _) = await RawPeer.ReadRequestAsync(pair.Server, Ct);
        Assert.Equal(1u, id);
        await RawPeer.RespondAsync(pair.Server, streamId, new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving }, Ct);

        var e = await Assert.ThrowsAsync<TtrpcException>(() => call.WaitAsync(Patience, Ct));
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.True(await RawPeer.ClosedAsync(pair.Server, Ct).WaitAsync(Patience, Ct));
    }

    [Fact]
    public async Task A_second_answer_on_a_stream_closes_the_connection_but_one_late_answer_of_a_call_that_gave_up_does_not()
    {
        await using var pair = await SocketPair.CreateAsync(Ct);
        await using var client = new TtrpcClient(pair.Client);
        var serving = new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving };

        var first = client.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct);
        var (id, _) = await RawPeer.ReadRequestAsync(pair.Server, Ct);
        await RawPeer.RespondAsync(pair.Server, id, serving, Ct);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await first.WaitAsync(Patience, Ct)).Status);

        var waiting = client.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct);
        await RawPeer.ReadRequestAsync(pair.Server, Ct);
        await RawPeer.RespondAsync(pair.Server, id, serving, Ct);

        var e = await Assert.ThrowsAsync<TtrpcException>(() => waiting.WaitAsync(Patience, Ct));
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Contains($"answered stream {id} again", e.Message, StringComparison.Ordinal);
        Assert.False(client.IsConnected);
    }
}
