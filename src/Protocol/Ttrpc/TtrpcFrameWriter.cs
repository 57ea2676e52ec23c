using System.Buffers;
using System.Buffers.Binary;

namespace KataWorkflows.Protocol.Ttrpc;

/// <summary>
/// Writes ttrpc frames to a stream. Writers on many threads share one instance: each frame goes out whole (header
/// and data in one write, then a flush) and frames never interleave. A frame over the size limit is refused before
/// anything is written. A write that is cancelled once it has started (a peer that stops reading fills the socket's
/// buffer, and the write would otherwise wait for ever) may leave half a frame on the stream: the writer is then
/// <see cref="IsBroken"/> and refuses every later frame, and its owner closes the connection.
/// </summary>
public sealed class TtrpcFrameWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly int _maxDataLength;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile string? _broken;

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
    /// Why the writer refuses frames (a write was cancelled or failed part way, so the stream may hold half a frame),
    /// or <see langword="null"/> while it is usable.
    /// </summary>
    public string? BrokenReason => _broken;

    /// <summary>Whether a write was cancelled or failed part way: the connection must be closed.</summary>
    public bool IsBroken => _broken is not null;

    /// <summary>
    /// Writes one frame. The token cancels the wait for the other writers and the write itself; a frame cancelled or
    /// failed once it started going out breaks the writer (<see cref="IsBroken"/>), since half a frame breaks the
    /// connection for every call on it.
    /// </summary>
    /// <exception cref="TtrpcProtocolException">The data is over the size limit (nothing was written).</exception>
    /// <exception cref="IOException">The writer is broken by an earlier write (nothing was written).</exception>
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
                if (_broken is { } reason)
                {
                    throw new IOException($"The ttrpc connection cannot take another frame: {reason}.");
                }

                // A token cancelled before the first byte leaves the stream whole.
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    await _stream.WriteAsync(buffer.AsMemory(0, size), cancellationToken).ConfigureAwait(false);
                    await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    _broken = $"a {type} on stream {streamId} was cancelled while it was being written (the peer is not reading)";
                    throw;
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
                {
                    _broken = $"writing a {type} on stream {streamId} failed: {e.Message}";
                    throw;
                }
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
