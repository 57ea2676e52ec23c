using System.Net.Sockets;
using Grpc.Net.Client;

namespace KataWorkflows.TestSupport;

/// <summary>gRPC channels to a host listening on a Unix socket, as the suites that start a real host need them.</summary>
public static class UnixSocketChannel
{
    /// <summary>A channel to the socket at <paramref name="socketPath"/>, with no message size limit of its own.</summary>
    public static GrpcChannel Create(string socketPath) =>
        GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, cancellationToken) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    try
                    {
                        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
            },
            MaxSendMessageSize = null,
            MaxReceiveMessageSize = null,
        });
}
