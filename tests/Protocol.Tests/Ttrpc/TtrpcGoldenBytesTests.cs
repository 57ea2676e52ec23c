using Grpc.Core;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Ttrpc;

namespace KataWorkflows.Protocol.Tests.Ttrpc;

/// <summary>
/// The bytes on the wire, written out by hand from the specs (containerd/ttrpc PROTOCOL.md and request.proto, the
/// protobuf encoding guide, Kata's health.proto), not produced by this code.
/// </summary>
public sealed class TtrpcGoldenBytesTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_first_Health_Check_with_a_30_second_timeout_is_these_bytes()
    {
        byte[] expected =
        [
            // Header: data length 31 (big-endian u32), stream id 1 (the client's first odd id), type 1 (request), flags 0.
            0x00, 0x00, 0x00, 0x1f,
            0x00, 0x00, 0x00, 0x01,
            0x01,
            0x00,

            // ttrpc.Request field 1 `service` (tag 1<<3|2 = 0x0a), 11 bytes: "grpc.Health".
            0x0a, 0x0b, (byte)'g', (byte)'r', (byte)'p', (byte)'c', (byte)'.', (byte)'H', (byte)'e', (byte)'a', (byte)'l', (byte)'t', (byte)'h',

            // Field 2 `method` (0x12), 5 bytes: "Check".
            0x12, 0x05, (byte)'C', (byte)'h', (byte)'e', (byte)'c', (byte)'k',

            // Field 3 `payload` (0x1a), 3 bytes: grpc.CheckRequest{service = "x"} = field 1 (0x0a), length 1, 'x'.
            0x1a, 0x03, 0x0a, 0x01, (byte)'x',

            // Field 4 `timeout_nano` (varint, tag 4<<3|0 = 0x20): 30 s = 30,000,000,000 ns, in 7-bit groups low first:
            // 30e9 = 0 + 128*234375000; 234375000 = 88 + 128*1831054; 1831054 = 14 + 128*14305;
            // 14305 = 97 + 128*111; 111 < 128. Groups 0, 88, 14, 97, 111; continuation bit on all but the last.
            0x20, 0x80, 0xd8, 0x8e, 0xe1, 0x6f,
        ];
        await using var pair = await SocketPair.CreateAsync(Ct);
        await using var client = new TtrpcClient(pair.Client);

        _ = client.CallAsync("grpc.Health", "Check", new CheckRequest { Service = "x" }, HealthCheckResponse.Parser, TimeSpan.FromSeconds(30), Ct);
        var actual = new byte[expected.Length];
        await pair.Server.ReadExactlyAsync(actual, Ct).AsTask().WaitAsync(Patience, Ct);

        Assert.Equal(expected, actual);
    }

    [Fact]
    public async Task A_Response_written_by_hand_is_read_as_its_payload()
    {
        await using var pair = await SocketPair.CreateAsync(Ct);
        await using var client = new TtrpcClient(pair.Client);

        var call = client.CallAsync("grpc.Health", "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct);
        await pair.Server.ReadExactlyAsync(new byte[10 + 20], Ct); // the request: header + "grpc.Health" + "Check" fields, empty payload and no timeout omitted
        byte[] response =
        [
            0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, // 4 bytes, stream 1, response, no flags
            0x12, 0x02, 0x08, 0x01, // field 2 `payload`, 2 bytes: HealthCheckResponse{status (field 1 varint) = SERVING (1)}
        ];
        await RawPeer.SendAsync(pair.Server, response, Ct);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await call.WaitAsync(Patience, Ct)).Status);
    }

    [Fact]
    public async Task An_error_Response_written_by_hand_is_read_as_its_status()
    {
        await using var pair = await SocketPair.CreateAsync(Ct);
        await using var client = new TtrpcClient(pair.Client);

        var call = client.CallAsync("grpc.Health", "Check", new CheckRequest(), HealthCheckResponse.Parser, null, Ct);
        await pair.Server.ReadExactlyAsync(new byte[10 + 20], Ct);
        byte[] response =
        [
            0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00,
            // field 1 `status` (0x0a), 6 bytes: google.rpc.Status{code (0x08) = 5 NOT_FOUND, message (0x12) = "nf"}
            0x0a, 0x06, 0x08, 0x05, 0x12, 0x02, (byte)'n', (byte)'f',
        ];
        await RawPeer.SendAsync(pair.Server, response, Ct);

        var e = await Assert.ThrowsAsync<TtrpcException>(() => call.WaitAsync(Patience, Ct));
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Equal("nf", e.StatusMessage);
    }
}
