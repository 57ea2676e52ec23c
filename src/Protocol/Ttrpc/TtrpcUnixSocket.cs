using System.Net.Sockets;

namespace KataWorkflows.Protocol.Ttrpc;

/// <summary>Unix domain sockets for ttrpc: the host's end of a VM's agent channel, and test servers.</summary>
public static class TtrpcUnixSocket
{
    /// <summary>Connects to the socket at a path and returns the connection as a stream that owns the socket.</summary>
    /// <exception cref="SocketException">Nothing listens on the path (or it is not a socket).</exception>
    public static async Task<Stream> ConnectAsync(string socketPath, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Binds and listens on a path, which must not exist yet (the caller removes a stale socket).</summary>
    /// <exception cref="SocketException">The path exists or its directory does not.</exception>
    public static Socket Listen(string socketPath, int backlog = 16)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(socketPath));
            socket.Listen(backlog);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
