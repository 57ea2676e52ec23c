namespace KataWorkflows.Protocol.Ttrpc;

/// <summary>
/// One ttrpc message frame: a 10-byte header (data length and stream id as big-endian <c>uint32</c>, then the
/// message type byte and the flags byte) followed by the data.
/// </summary>
/// <param name="StreamId">The stream the frame belongs to; odd for streams the client opens.</param>
/// <param name="Type">The message type.</param>
/// <param name="Flags">Type-specific flags; 0 for unary requests and for every response.</param>
/// <param name="Data">The frame's data (a serialized <c>ttrpc.Request</c> or <c>ttrpc.Response</c>).</param>
public sealed record TtrpcFrame(uint StreamId, TtrpcMessageType Type, byte Flags, ReadOnlyMemory<byte> Data)
{
    /// <summary>The length of a frame header in bytes.</summary>
    public const int HeaderLength = 10;

    /// <summary>The largest data length a frame may carry: 4 MiB, as containerd's ttrpc (<c>messageLengthMax</c>).</summary>
    public const int MaxDataLength = 4 << 20;
}
