using System.Buffers;
using System.Buffers.Binary;

namespace KataWorkflows.Protocol.Ttrpc;

/// <summary>
/// Writes ttrpc frames to a stream. Writers on many threads share one instance: each frame goes out whole (header
/// and data in one write, then a flush) and frames never interleave. A frame over the size limit is refused before
/// anything is written.
/// </summary>
public sealed class TtrpcFrameWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly int _maxDataLength;
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Creates a writer over a connected stream.</summary>
    /// <param name="stream">The connection.</param>
    /// <param name="maxDataLength">The largest data length sent (default and upper bound: 4 MiB).</param>
    public TtrpcFrameWriter(Stream stream, int maxDataLength = TtrpcFrame.MaxDataLength)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(maxDataLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDataLength, TtrpcFrame.MaxDataLength);
        _stream = stream;
        _maxDataLength = maxDataLength;
    }

    /// <summary>
    /// Writes one frame. The token only cancels the wait for the other writers: once a frame has started going out
    /// it is finished, because half a frame would break the connection for every call on it.
    /// </summary>
    /// <exception cref="TtrpcProtocolException">The data is over the size limit (nothing was written).</exception>
    public async Task WriteAsync(uint streamId, TtrpcMessageType type, byte flags, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (data.Length > _maxDataLength)
        {
            throw new TtrpcProtocolException(
                $"A ttrpc {type} of {data.Length} bytes on stream {streamId} is over the limit of {_maxDataLength} bytes; it was not sent.")
            {
                StreamId = streamId,
            };
        }

        var size = TtrpcFrame.HeaderLength + data.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(0, 4), (uint)data.Length);
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(4, 4), streamId);
            buffer[8] = (byte)type;
            buffer[9] = flags;
            data.Span.CopyTo(buffer.AsSpan(TtrpcFrame.HeaderLength));
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await _stream.WriteAsync(buffer.AsMemory(0, size), CancellationToken.None).ConfigureAwait(false);
                await _stream.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                _gate.Release();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _gate.Dispose();
}
