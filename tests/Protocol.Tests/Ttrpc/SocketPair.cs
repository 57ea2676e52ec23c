using System.Net.Sockets;
using KataWorkflows.Protocol.Ttrpc;

namespace KataWorkflows.Protocol.Tests.Ttrpc;

/// <summary>Two connected ends of a real Unix stream socket, made through a listener on a fresh temporary path.</summary>
internal sealed class SocketPair : IAsyncDisposable
{
    private SocketPair(string path, Socket listener, Stream client, Stream server)
    {
        Path = path;
        Listener = listener;
        Client = client;
        Server = server;
    }

    public string Path { get; }

    public Socket Listener { get; }

    /// <summary>The connecting end.</summary>
    public Stream Client { get; }

    /// <summary>The accepted end.</summary>
    public Stream Server { get; }

    public static string NewSocketPath() =>
        System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"kwf-{Guid.NewGuid():N}"[..16] + ".sock");

    public static async Task<SocketPair> CreateAsync(CancellationToken cancellationToken)
    {
        var path = NewSocketPath();
        var listener = TtrpcUnixSocket.Listen(path);
        var accept = listener.AcceptAsync(cancellationToken).AsTask();
        var client = await TtrpcUnixSocket.ConnectAsync(path, cancellationToken);
        var server = new NetworkStream(await accept, ownsSocket: true);
        return new SocketPair(path, listener, client, server);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        Listener.Dispose();
        File.Delete(Path);
    }
}
