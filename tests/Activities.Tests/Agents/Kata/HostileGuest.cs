using System.Buffers.Binary;
using System.Net.Sockets;
using Google.Protobuf;
using KataWorkflows.Protocol.Ttrpc;
using KataWorkflows.Protocol.Ttrpc.Wire;

namespace KataWorkflows.Activities.Tests.Agents.Kata;

/// <summary>What a <see cref="HostileGuest"/> does on each connection instead of serving the agent API.</summary>
public enum HostileBehaviour
{
    /// <summary>Writes 4 MiB response frames on streams the host never opened, as fast as the socket takes them, and reads nothing.</summary>
    Flood,

    /// <summary>Answers the first request with a header announcing 64 MiB of data.</summary>
    Oversized,

    /// <summary>Answers the first request with a response frame whose data is not a ttrpc Response.</summary>
    Malformed,

    /// <summary>Answers every request with a well-framed Response whose payload is not the message the call expects.</summary>
    WrongMessage,

    /// <summary>Answers the first request with half a frame and closes the connection.</summary>
    Truncated,

    /// <summary>Reads every request and never answers.</summary>
    Silent,

    /// <summary>Accepts the connection and never reads from it.</summary>
    NotReading,
}

/// <summary>
/// A test double of a misbehaving guest: it listens on a sandbox's agent socket, as a VM's virtio-serial channel
/// would, and on every connection misbehaves as its <see cref="HostileBehaviour"/> says. The frames are put together
/// here byte by byte (ttrpc's 10-byte header: length and stream id big-endian, type, flags), not with the project's
/// frame writer, which refuses to write most of them.
/// </summary>
internal sealed class HostileGuest : IAsyncDisposable
{
    private const byte ResponseType = 2;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly List<Task> _connections = [];
    private readonly Lock _gate = new();
    private long _bytesSent;
    private int _connectionCount;

    private HostileGuest(string socketPath, HostileBehaviour behaviour)
    {
        SocketPath = socketPath;
        Behaviour = behaviour;
        Directory.CreateDirectory(Path.GetDirectoryName(socketPath)!);
        _listener = TtrpcUnixSocket.Listen(socketPath);
        _accepting = AcceptAsync();
    }

    public string SocketPath { get; }

    public HostileBehaviour Behaviour { get; }

    /// <summary>Bytes written to the host so far, over every connection.</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Connections the host made so far.</summary>
    public int Connections => Volatile.Read(ref _connectionCount);

    public static HostileGuest Start(string socketPath, HostileBehaviour behaviour) => new(socketPath, behaviour);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Task[] connections;
        lock (_gate)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll(connections).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private static byte[] Header(uint length, uint streamId)
    {
        var header = new byte[10];
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(0, 4), length);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4, 4), streamId);
        header[8] = ResponseType;
        return header;
    }

    private static byte[] Frame(uint streamId, ReadOnlySpan<byte> data) => [.. Header((uint)data.Length, streamId), .. data];

    /// <summary>Reads one request frame and returns its stream id, or null when the host closed the connection.</summary>
    private static async Task<uint?> ReadRequestAsync(Stream stream, CancellationToken cancellationToken)
    {
        var header = new byte[10];
        if (await stream.ReadAtLeastAsync(header, 10, throwOnEndOfStream: false, cancellationToken) < 10)
        {
            return null;
        }

        var data = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(0, 4))];
        await stream.ReadExactlyAsync(data, cancellationToken);
        return BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4, 4));
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Interlocked.Increment(ref _connectionCount);
            var connection = Task.Run(() => MisbehaveAsync(new NetworkStream(socket, ownsSocket: true)));
            lock (_gate)
            {
                _connections.Add(connection);
            }
        }
    }

    private async Task MisbehaveAsync(NetworkStream stream)
    {
        await using var _ = stream;
        var ct = _stop.Token;
        try
        {
            switch (Behaviour)
            {
                case HostileBehaviour.Flood:
                    var flood = Frame(1001, new Response { Payload = ByteString.CopyFrom(new byte[TtrpcFrame.MaxDataLength - 16]) }.ToByteArray());
                    for (uint streamId = 1001; ; streamId += 2)
                    {
                        BinaryPrimitives.WriteUInt32BigEndian(flood.AsSpan(4, 4), streamId);
                        await SendAsync(stream, flood, ct);
                    }

                case HostileBehaviour.Oversized:
                    if (await ReadRequestAsync(stream, ct) is { } big)
                    {
                        await SendAsync(stream, Header(64 << 20, big), ct);
                        await WaitForCloseAsync(stream, ct);
                    }

                    break;

                case HostileBehaviour.Malformed:
                    if (await ReadRequestAsync(stream, ct) is { } bad)
                    {
                        await SendAsync(stream, Frame(bad, [0xff, 0xff, 0xff, 0xff]), ct);
                        await WaitForCloseAsync(stream, ct);
                    }

                    break;

                case HostileBehaviour.WrongMessage:
                    while (await ReadRequestAsync(stream, ct) is { } asked)
                    {
                        await SendAsync(stream, Frame(asked, new Response { Payload = ByteString.CopyFrom(0xff, 0xff, 0xff) }.ToByteArray()), ct);
                    }

                    break;

                case HostileBehaviour.Truncated:
                    if (await ReadRequestAsync(stream, ct) is { } cut)
                    {
                        await SendAsync(stream, Frame(cut, new byte[100])[..60], ct);
                    }

                    break;

                case HostileBehaviour.Silent:
                    while (await ReadRequestAsync(stream, ct) is not null)
                    {
                    }

                    break;

                case HostileBehaviour.NotReading:
                    await Task.Delay(Timeout.Infinite, ct);
                    break;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The host closed the connection (or the test ended): this connection's misbehaviour is over.
        }
    }

    private async Task SendAsync(Stream stream, byte[] bytes, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(bytes, cancellationToken);
        await stream.FlushAsync(cancellationToken);
        Interlocked.Add(ref _bytesSent, bytes.Length);
    }

    private static async Task WaitForCloseAsync(Stream stream, CancellationToken cancellationToken)
    {
        var sink = new byte[4096];
        while (await stream.ReadAsync(sink, cancellationToken) > 0)
        {
        }
    }
}
