using System.Buffers.Binary;

namespace KataWorkflows.Protocol.Ttrpc;

/// <summary>
/// Reads ttrpc frames from a stream, one at a time (one reader per connection). A frame whose header announces
/// more than the limit is refused before its data is read: <see cref="ReadAsync"/> throws and the caller closes
/// the connection, so an oversized or hostile length never makes it allocate or wait for the data.
/// </summary>
public sealed class TtrpcFrameReader
{
    private readonly Stream _stream;
    private readonly int _maxDataLength;
    private readonly byte[] _header = new byte[TtrpcFrame.HeaderLength];

    /// <summary>Creates a reader over a connected stream.</summary>
    /// <param name="stream">The connection.</param>
    /// <param name="maxDataLength">The largest data length accepted (default and upper bound: 4 MiB).</param>
    public TtrpcFrameReader(Stream stream, int maxDataLength = TtrpcFrame.MaxDataLength)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(maxDataLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDataLength, TtrpcFrame.MaxDataLength);
        _stream = stream;
        _maxDataLength = maxDataLength;
    }

    /// <summary>
    /// Reads the next frame. Returns <see langword="null"/> when the peer closed the connection between frames. A
    /// cancelled read may leave the stream in the middle of a frame: close the connection after it.
    /// </summary>
    /// <exception cref="TtrpcProtocolException">The peer closed the connection in the middle of a frame, or the
    /// frame is over the size limit.</exception>
    public async ValueTask<TtrpcFrame?> ReadAsync(CancellationToken cancellationToken)
    {
        var read = await _stream.ReadAtLeastAsync(_header, _header.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            return null;
        }

        if (read < _header.Length)
        {
            throw new TtrpcProtocolException(
                $"The ttrpc peer closed the connection in the middle of a frame header ({read} of {TtrpcFrame.HeaderLength} bytes).");
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(0, 4));
        var streamId = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(4, 4));
        var type = (TtrpcMessageType)_header[8];
        var flags = _header[9];
        if (length > (uint)_maxDataLength)
        {
            throw new TtrpcProtocolException(
                $"A ttrpc frame on stream {streamId} announces {length} bytes of data, over the limit of {_maxDataLength} bytes; " +
                "it was not read and the connection is closed.")
            {
                StreamId = streamId,
                FrameTooLarge = true,
            };
        }

        var data = length == 0 ? [] : new byte[length];
        if (length > 0)
        {
            read = await _stream.ReadAtLeastAsync(data, data.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (read < data.Length)
            {
                throw new TtrpcProtocolException(
                    $"The ttrpc peer closed the connection in the middle of the data of a frame on stream {streamId} ({read} of {length} bytes).")
                {
                    StreamId = streamId,
                };
            }
        }

        return new TtrpcFrame(streamId, type, flags, data);
    }
}
