using KataWorkflows.Protocol.Ttrpc;

namespace KataWorkflows.Protocol.Tests.Ttrpc;

public sealed class TtrpcFrameTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_written_frame_reads_back_whole()
    {
        using var buffer = new MemoryStream();
        using var writer = new TtrpcFrameWriter(buffer);
        await writer.WriteAsync(7, TtrpcMessageType.Response, 0, new byte[] { 1, 2, 3 }, Ct);
        await writer.WriteAsync(9, TtrpcMessageType.Request, 0, ReadOnlyMemory<byte>.Empty, Ct);
        buffer.Position = 0;

        var reader = new TtrpcFrameReader(buffer);
        var first = await reader.ReadAsync(Ct);
        var second = await reader.ReadAsync(Ct);
        var end = await reader.ReadAsync(Ct);

        Assert.NotNull(first);
        Assert.Equal((7u, TtrpcMessageType.Response, (byte)0), (first.StreamId, first.Type, first.Flags));
        Assert.Equal(new byte[] { 1, 2, 3 }, first.Data.ToArray());
        Assert.NotNull(second);
        Assert.Equal(9u, second.StreamId);
        Assert.True(second.Data.IsEmpty);
        Assert.Null(end);
    }

    [Fact]
    public async Task A_header_over_the_4_MiB_limit_is_refused_without_waiting_for_its_data()
    {
        // Only the header is there: a reader that tried to read the data first would fail with "truncated" instead.
        var header = RawPeer.Frame(5, 1, 0, [])[..10];
        header[0] = 0x00;
        header[1] = 0x40;
        header[2] = 0x00;
        header[3] = 0x01; // 0x00400001 = 4 MiB + 1
        using var stream = new MemoryStream(header);

        var e = await Assert.ThrowsAsync<TtrpcProtocolException>(() => new TtrpcFrameReader(stream).ReadAsync(Ct).AsTask());

        Assert.True(e.FrameTooLarge);
        Assert.Equal(5u, e.StreamId);
        Assert.Contains("4194305 bytes", e.Message, StringComparison.Ordinal);
        Assert.Contains("limit of 4194304", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_frame_of_exactly_4_MiB_is_accepted()
    {
        var frame = RawPeer.Frame(1, 2, 0, new byte[TtrpcFrame.MaxDataLength]);
        using var stream = new MemoryStream(frame);

        var read = await new TtrpcFrameReader(stream).ReadAsync(Ct);

        Assert.Equal(TtrpcFrame.MaxDataLength, read!.Data.Length);
    }

    [Fact]
    public async Task The_writer_refuses_data_over_the_limit_and_writes_nothing()
    {
        using var buffer = new MemoryStream();
        using var writer = new TtrpcFrameWriter(buffer);

        var e = await Assert.ThrowsAsync<TtrpcProtocolException>(
            () => writer.WriteAsync(3, TtrpcMessageType.Request, 0, new byte[TtrpcFrame.MaxDataLength + 1], Ct));

        Assert.Contains("over the limit", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, buffer.Length);
    }

    [Fact]
    public async Task A_peer_that_closes_in_the_middle_of_a_header_is_a_protocol_error()
    {
        using var stream = new MemoryStream([0, 0, 0, 4, 0]);

        var e = await Assert.ThrowsAsync<TtrpcProtocolException>(() => new TtrpcFrameReader(stream).ReadAsync(Ct).AsTask());

        Assert.Contains("middle of a frame header (5 of 10 bytes)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_peer_that_closes_in_the_middle_of_the_data_is_a_protocol_error()
    {
        var frame = RawPeer.Frame(3, 1, 0, new byte[20]);
        using var stream = new MemoryStream(frame[..(10 + 7)]);

        var e = await Assert.ThrowsAsync<TtrpcProtocolException>(() => new TtrpcFrameReader(stream).ReadAsync(Ct).AsTask());

        Assert.Contains("(7 of 20 bytes)", e.Message, StringComparison.Ordinal);
        Assert.Equal(3u, e.StreamId);
    }

    [Fact]
    public async Task Concurrent_writers_never_interleave_frames()
    {
        await using var pair = await SocketPair.CreateAsync(Ct);
        using var writer = new TtrpcFrameWriter(pair.Client);
        const int Writers = 32;
        var payload = new byte[64 * 1024];

        var reading = Task.Run(async () =>
        {
            var seen = new List<uint>();
            for (var i = 0; i < Writers; i++)
            {
                var frame = await RawPeer.ReadAsync(pair.Server, Ct);
                Assert.NotNull(frame);
                Assert.Equal(payload.Length, frame.Value.Data.Length);
                Assert.True(frame.Value.Data.AsSpan().IndexOfAnyExcept((byte)frame.Value.StreamId) < 0, $"frame {frame.Value.StreamId} carries bytes of another frame");
                seen.Add(frame.Value.StreamId);
            }

            return seen;
        }, Ct);
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(i => Task.Run(() =>
        {
            var data = new byte[payload.Length];
            Array.Fill(data, (byte)(2 * i + 1));
            return writer.WriteAsync((uint)(2 * i + 1), TtrpcMessageType.Request, 0, data, Ct);
        }, Ct)));

        var ids = await reading.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(Enumerable.Range(0, Writers).Select(i => (uint)(2 * i + 1)).Order(), ids.Order());
    }
}
