using Grpc.Core;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Ttrpc;

namespace KataWorkflows.Protocol.Tests.Ttrpc;

public sealed class TtrpcServerTests
{
    private const string Health = "grpc.Health";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static TtrpcServer HealthServer()
    {
        var server = new TtrpcServer();
        server.Register(Health, "Check", CheckRequest.Parser, (_, _, _) =>
            Task.FromResult(new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving }));
        return server;
    }

    public static TheoryData<string, byte[], string> BadFrames() => new()
    {
        { "truncated data", RawPeer.Frame(1, 1, 0, new byte[30])[..20], "middle of the data of a frame on stream 1 (10 of 30 bytes)" },
        { "truncated header", [0, 0, 0], "middle of a frame header (3 of 10 bytes)" },
        { "data frame", RawPeer.Frame(1, 3, 0, [1]), "sent a Data frame on stream 1; only unary requests are served" },
        { "unknown type", RawPeer.Frame(1, 9, 0, [1]), "sent a 9 frame on stream 1" },
        { "even stream id", RawPeer.RequestFrame(2, Health, "Check", new CheckRequest()), "opened stream 2; client streams must have odd ids" },
        { "not a Request", RawPeer.Frame(1, 1, 0, [0xff, 0xff, 0xff]), "frame on stream 1 is not a ttrpc Request" },
    };

    [Theory]
    [MemberData(nameof(BadFrames))]
    public async Task A_bad_frame_closes_its_connection_and_reports_why(string name, byte[] bytes, string reason)
    {
        Assert.NotEmpty(name);
        await using var server = HealthServer();
        await using var pair = await SocketPair.CreateAsync(Ct);
        var serving = server.ServeConnectionAsync(pair.Server, Ct);

        await RawPeer.SendAsync(pair.Client, bytes, Ct);
        pair.Client.Dispose();

        var e = await Assert.ThrowsAsync<TtrpcProtocolException>(() => serving.WaitAsync(Patience, Ct));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_frame_over_the_limit_is_answered_ResourceExhausted_and_its_connection_closed_without_reading_it()
    {
        await using var server = HealthServer();
        await using var pair = await SocketPair.CreateAsync(Ct);
        var serving = server.ServeConnectionAsync(pair.Server, Ct);

        // Only the header: a server that waited for the 4 MiB + 1 bytes would never answer.
        var header = RawPeer.Frame(7, 1, 0, [])[..10];
        header[1] = 0x40;
        header[3] = 0x01;
        await RawPeer.SendAsync(pair.Client, header, Ct);

        var response = await RawPeer.ReadResponseAsync(pair.Client, 7, Ct).WaitAsync(Patience, Ct);
        Assert.Equal((int)StatusCode.ResourceExhausted, response.Status.Code);
        Assert.Contains("announces 4194305 bytes of data, over the limit of 4194304 bytes", response.Status.Message, StringComparison.Ordinal);
        Assert.True(await RawPeer.ClosedAsync(pair.Client, Ct).WaitAsync(Patience, Ct));
        var e = await Assert.ThrowsAsync<TtrpcProtocolException>(() => serving.WaitAsync(Patience, Ct));
        Assert.True(e.FrameTooLarge);
    }

    [Fact]
    public async Task A_streaming_request_is_answered_Unimplemented_and_the_connection_serves_on()
    {
        await using var server = HealthServer();
        await using var pair = await SocketPair.CreateAsync(Ct);
        _ = server.ServeConnectionAsync(pair.Server, Ct);

        var streaming = RawPeer.RequestFrame(1, Health, "Check", new CheckRequest());
        streaming[9] = 0x2; // remote open
        await RawPeer.SendAsync(pair.Client, streaming, Ct);
        var refused = await RawPeer.ReadResponseAsync(pair.Client, 1, Ct).WaitAsync(Patience, Ct);
        await RawPeer.SendAsync(pair.Client, RawPeer.RequestFrame(3, Health, "Check", new CheckRequest()), Ct);
        var answered = await RawPeer.ReadResponseAsync(pair.Client, 3, Ct).WaitAsync(Patience, Ct);

        Assert.Equal((int)StatusCode.Unimplemented, refused.Status.Code);
        Assert.Null(answered.Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, HealthCheckResponse.Parser.ParseFrom(answered.Payload).Status);
    }

    [Fact]
    public async Task A_request_payload_that_does_not_parse_is_answered_InvalidArgument()
    {
        await using var server = HealthServer();
        await using var pair = await SocketPair.CreateAsync(Ct);
        _ = server.ServeConnectionAsync(pair.Server, Ct);

        var request = new KataWorkflows.Protocol.Ttrpc.Wire.Request
        {
            Service = Health,
            Method = "Check",
            Payload = Google.Protobuf.ByteString.CopyFrom(0x0a, 0x05, 0x61), // a string field claiming 5 bytes, 1 given
        };
        await RawPeer.SendAsync(pair.Client, RawPeer.Frame(1, 1, 0, Google.Protobuf.MessageExtensions.ToByteArray(request)), Ct);
        var response = await RawPeer.ReadResponseAsync(pair.Client, 1, Ct).WaitAsync(Patience, Ct);

        Assert.Equal((int)StatusCode.InvalidArgument, response.Status.Code);
        Assert.StartsWith("the request is not a valid CheckRequest", response.Status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_listener_keeps_serving_other_connections_when_one_sends_a_bad_frame()
    {
        await using var server = HealthServer();
        var path = SocketPair.NewSocketPath();
        using var listener = TtrpcUnixSocket.Listen(path);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var serving = server.ServeAsync(listener, stop.Token);
        try
        {
            await using var good = await TtrpcClient.ConnectUnixAsync(path, Ct);
            await good.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct);

            await using (var bad = await TtrpcUnixSocket.ConnectAsync(path, Ct))
            {
                await RawPeer.SendAsync(bad, RawPeer.Frame(1, 3, 0, [1, 2, 3]), Ct);
                Assert.True(await RawPeer.ClosedAsync(bad, Ct).WaitAsync(Patience, Ct));
            }

            var after = await good.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct);
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, after.Status);
            await using var late = await TtrpcClient.ConnectUnixAsync(path, Ct);
            Assert.NotNull(await late.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct));
        }
        finally
        {
            await stop.CancelAsync();
            await serving.WaitAsync(Patience, Ct);
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Disposing_the_server_ends_its_connections_and_cancels_the_calls_in_flight()
    {
        var server = HealthServer();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Register(Health, "Version", CheckRequest.Parser, async (_, _, cancellationToken) =>
        {
            using var registration = cancellationToken.Register(cancelled.SetResult);
            started.SetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return new VersionCheckResponse();
        });
        await using var pair = await SocketPair.CreateAsync(Ct);
        var serving = server.ServeConnectionAsync(pair.Server, Ct);
        await using var client = new TtrpcClient(pair.Client);

        var call = client.CallAsync(Health, "Version", new CheckRequest(), VersionCheckResponse.Parser, null, Ct);
        await started.Task.WaitAsync(Patience, Ct);
        await server.DisposeAsync().AsTask().WaitAsync(Patience, Ct);

        await cancelled.Task.WaitAsync(Patience, Ct);
        await serving.WaitAsync(Patience, Ct);
        var e = await Assert.ThrowsAsync<TtrpcException>(() => call.WaitAsync(Patience, Ct));
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
    }
}
