using System.Buffers.Binary;
using Google.Protobuf;
using KataWorkflows.Protocol.Ttrpc;
using KataWorkflows.Protocol.Ttrpc.Wire;

namespace KataWorkflows.Protocol.Tests.Ttrpc;

/// <summary>
/// The far end of a connection driven byte by byte, independent of the frame reader and writer under test: frames
/// are put together and taken apart here from the spec (10-byte header: length and stream id big-endian, type, flags).
/// </summary>
internal static class RawPeer
{
    public static byte[] Frame(uint streamId, byte type, byte flags, ReadOnlySpan<byte> data)
    {
        var frame = new byte[10 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(0, 4), (uint)data.Length);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4, 4), streamId);
        frame[8] = type;
        frame[9] = flags;
        data.CopyTo(frame.AsSpan(10));
        return frame;
    }

    public static async Task SendAsync(Stream stream, byte[] bytes, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(bytes, cancellationToken);
        await stream.FlushAsync(cancellationToken);
    }

    /// <summary>Reads one whole frame, or null at end of stream.</summary>
    public static async Task<(uint StreamId, byte Type, byte Flags, byte[] Data)?> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var header = new byte[10];
        var read = await stream.ReadAtLeastAsync(header, 10, throwOnEndOfStream: false, cancellationToken);
        if (read == 0)
        {
            return null;
        }

        Assert.Equal(10, read);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(0, 4));
        var data = new byte[length];
        await stream.ReadExactlyAsync(data, cancellationToken);
        return (BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4, 4)), header[8], header[9], data);
    }

    public static async Task<(uint StreamId, Request Request)> ReadRequestAsync(Stream stream, CancellationToken cancellationToken)
    {
        var frame = await ReadAsync(stream, cancellationToken) ?? throw new InvalidOperationException("the client closed the connection");
        Assert.Equal((byte)TtrpcMessageType.Request, frame.Type);
        return (frame.StreamId, Request.Parser.ParseFrom(frame.Data));
    }

    public static async Task<Response> ReadResponseAsync(Stream stream, uint expectedStreamId, CancellationToken cancellationToken)
    {
        var frame = await ReadAsync(stream, cancellationToken) ?? throw new InvalidOperationException("the server closed the connection");
        Assert.Equal((byte)TtrpcMessageType.Response, frame.Type);
        Assert.Equal(expectedStreamId, frame.StreamId);
        return Response.Parser.ParseFrom(frame.Data);
    }

    public static Task RespondAsync(Stream stream, uint streamId, IMessage payload, CancellationToken cancellationToken) =>
        SendAsync(stream, Frame(streamId, 2, 0, new Response { Payload = payload.ToByteString() }.ToByteArray()), cancellationToken);

    public static byte[] RequestFrame(uint streamId, string service, string method, IMessage payload, long timeoutNano = 0) =>
        Frame(streamId, 1, 0, new Request { Service = service, Method = method, Payload = payload.ToByteString(), TimeoutNano = timeoutNano }.ToByteArray());

    /// <summary>Whether the peer closed its end: a read returns end of stream (or the connection was reset).</summary>
    public static async Task<bool> ClosedAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[64];
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(buffer, cancellationToken);
                if (read == 0)
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            return true;
        }
    }
}
