using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KataWorkflows.Activities.Hypervisors.Qemu;

namespace KataWorkflows.Qemu.Tests;

/// <summary>The QMP client against a scripted QMP server on a Unix socket (no QEMU needed).</summary>
public sealed class QmpClientTests : IAsyncDisposable
{
    private const string Greeting = """{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}""";

    private readonly string _directory = QemuHost.NewRoot();
    private readonly Socket _listener;

    public QmpClientTests()
    {
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(1);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string SocketPath => Path.Join(_directory, "qmp.sock");

    [Fact]
    public async Task It_negotiates_capabilities_then_matches_answers_by_id_past_events_and_keeps_the_events()
    {
        var server = ServeAsync(async peer =>
        {
            await peer.SendAsync(Greeting);
            var caps = await peer.ReceiveAsync();
            Assert.Equal("qmp_capabilities", caps["execute"]!.GetValue<string>());
            await peer.SendAsync($$"""{"return": {}, "id": "{{caps["id"]}}"}""");
            var first = await peer.ReceiveAsync();
            var second = await peer.ReceiveAsync();
            Assert.Equal("device_add", second["execute"]!.GetValue<string>());
            Assert.Equal("rp1", second["arguments"]!["bus"]!.GetValue<string>());

            // Answer out of order, with events between.
            await peer.SendAsync("""{"timestamp": {"seconds": 1, "microseconds": 5}, "event": "RESUME"}""");
            await peer.SendAsync($$"""{"return": {}, "id": "{{second["id"]}}"}""");
            await peer.SendAsync("""{"event": "STOP", "timestamp": {"seconds": 2, "microseconds": 0}}""");
            await peer.SendAsync($$"""{"return": {"status": "paused", "singlestep": false, "running": false}, "id": "{{first["id"]}}" }""");
        });
        await using var client = await QmpClient.ConnectAsync(SocketPath, TimeSpan.FromSeconds(10), 4096, Ct);

        var status = client.QueryStatusAsync(Ct);
        var add = client.DeviceAddAsync(new JsonObject { ["driver"] = "virtio-net-pci", ["id"] = "nic-1", ["bus"] = "rp1" }, Ct);

        Assert.Equal(new QmpStatus("paused", false), await status);
        await add;
        await server;
        Assert.Equal("7.2.22", client.QemuVersion);
        Assert.Equal(["RESUME", "STOP"], client.RecentEvents.Select(e => e.Name));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1).AddTicks(50), client.RecentEvents[0].Timestamp);
    }

    [Fact]
    public async Task An_error_answer_carries_QMP_s_class_and_description()
    {
        var server = ServeAsync(async peer =>
        {
            await peer.HandshakeAsync();
            var request = await peer.ReceiveAsync();
            await peer.SendAsync($$$"""{"id": "{{{request["id"]}}}", "error": {"class": "DeviceNotFound", "desc": "Device 'nic-9' not found"}}""");
        });
        await using var client = await QmpClient.ConnectAsync(SocketPath, TimeSpan.FromSeconds(10), 4096, Ct);

        var ex = await Assert.ThrowsAsync<QmpException>(() => client.ExecuteAsync("device_del", new JsonObject { ["id"] = "nic-9" }, cancellationToken: Ct));

        await server;
        Assert.Equal(("device_del", "DeviceNotFound", "Device 'nic-9' not found"), (ex.Command, ex.ErrorClass, ex.Description));
        Assert.Contains(SocketPath, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_line_over_the_limit_ends_the_connection_with_a_clear_error_for_every_call()
    {
        var server = ServeAsync(async peer =>
        {
            await peer.HandshakeAsync();
            await peer.ReceiveAsync();
            await peer.SendRawAsync(Encoding.ASCII.GetBytes("{\"event\": \"" + new string('x', 10_000)));
            await peer.WaitClosedAsync();
        });
        await using var client = await QmpClient.ConnectAsync(SocketPath, TimeSpan.FromSeconds(10), 4096, Ct);

        var ex = await Assert.ThrowsAsync<QmpProtocolException>(() => client.QueryStatusAsync(Ct));
        var later = await Assert.ThrowsAsync<QmpProtocolException>(() => client.ContAsync(Ct));

        Assert.Contains("longer than 4096 bytes", ex.Message, StringComparison.Ordinal);
        Assert.Equal(ex.Message, later.Message);
        await client.DisposeAsync();
        await server;
    }

    [Fact]
    public async Task A_line_that_is_not_JSON_or_a_closed_socket_fails_the_pending_calls()
    {
        var server = ServeAsync(async peer =>
        {
            await peer.HandshakeAsync();
            await peer.ReceiveAsync();
            await peer.SendAsync("this is not json");
        });
        await using var client = await QmpClient.ConnectAsync(SocketPath, TimeSpan.FromSeconds(10), 4096, Ct);

        var ex = await Assert.ThrowsAsync<QmpProtocolException>(() => client.QueryStatusAsync(Ct));

        await server;
        Assert.Contains("not JSON", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_call_without_an_answer_times_out_and_a_late_answer_is_dropped()
    {
        var answered = new TaskCompletionSource();
        var server = ServeAsync(async peer =>
        {
            await peer.HandshakeAsync();
            var silent = await peer.ReceiveAsync();
            var next = await peer.ReceiveAsync();
            await peer.SendAsync($$"""{"return": {}, "id": "{{silent["id"]}}"}""");
            await peer.SendAsync($$"""{"return": {"status": "running", "running": true}, "id": "{{next["id"]}}"}""");
            answered.SetResult();
        });
        await using var client = await QmpClient.ConnectAsync(SocketPath, TimeSpan.FromSeconds(10), 4096, Ct);

        var ex = await Assert.ThrowsAsync<TimeoutException>(() => client.ExecuteAsync("stop", timeout: TimeSpan.FromMilliseconds(200), cancellationToken: Ct));
        var status = await client.QueryStatusAsync(Ct);

        await server;
        Assert.Contains("QMP stop", ex.Message, StringComparison.Ordinal);
        Assert.Equal("running", status.Status);
    }

    [Fact]
    public async Task Device_del_waits_for_the_DEVICE_DELETED_of_that_device_and_times_out_without_it()
    {
        var server = ServeAsync(async peer =>
        {
            await peer.HandshakeAsync();
            var first = await peer.ReceiveAsync();
            await peer.SendAsync($$"""{"return": {}, "id": "{{first["id"]}}"}""");
            await peer.SendAsync("""{"event": "DEVICE_DELETED", "data": {"path": "/machine/peripheral/nic-1/virtio-backend"}}""");
            await peer.SendAsync("""{"event": "DEVICE_DELETED", "data": {"device": "nic-1", "path": "/machine/peripheral/nic-1"}}""");
            var second = await peer.ReceiveAsync();
            await peer.SendAsync($$"""{"return": {}, "id": "{{second["id"]}}"}""");
            await peer.WaitClosedAsync();
        });
        await using var client = await QmpClient.ConnectAsync(SocketPath, TimeSpan.FromSeconds(10), 4096, Ct);

        await client.DeviceDelAsync("nic-1", TimeSpan.FromSeconds(10), Ct);
        var ex = await Assert.ThrowsAsync<TimeoutException>(() => client.DeviceDelAsync("nic-2", TimeSpan.FromMilliseconds(300), Ct));

        Assert.Contains("nic-2", ex.Message, StringComparison.Ordinal);
        Assert.Equal("nic-1", client.RecentEvents[^1].DataString("device"));
        await client.DisposeAsync();
        await server;
    }

    [Fact]
    public async Task A_server_that_never_greets_fails_the_connect_within_its_timeout()
    {
        var server = ServeAsync(peer => peer.WaitClosedAsync());

        var ex = await Assert.ThrowsAsync<TimeoutException>(() => QmpClient.ConnectAsync(SocketPath, TimeSpan.FromMilliseconds(300), 4096, Ct));

        await server;
        Assert.Contains("greeting", ex.Message, StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        await Task.Yield();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task ServeAsync(Func<Peer, Task> script)
    {
        using var socket = await _listener.AcceptAsync(Ct);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var peer = new Peer(stream);
        await script(peer);
    }

    private sealed class Peer(NetworkStream stream) : IDisposable
    {
        private readonly StreamReader _reader = new(stream, Encoding.UTF8, leaveOpen: true);

        public void Dispose() => _reader.Dispose();

        public async Task HandshakeAsync()
        {
            await SendAsync(Greeting);
            var caps = await ReceiveAsync();
            await SendAsync($$"""{"return": {}, "id": "{{caps["id"]}}"}""");
        }

        public Task SendAsync(string line) => SendRawAsync(Encoding.UTF8.GetBytes(line + "\n"));

        public async Task SendRawAsync(byte[] bytes) => await stream.WriteAsync(bytes, Ct);

        public async Task<JsonObject> ReceiveAsync()
        {
            var line = await _reader.ReadLineAsync(Ct) ?? throw new InvalidOperationException("the client closed the connection");
            return JsonNode.Parse(line)!.AsObject();
        }

        public async Task WaitClosedAsync()
        {
            try
            {
                while (await _reader.ReadLineAsync(Ct) is not null)
                {
                }
            }
            catch (IOException)
            {
                // The client closed with data unread: a reset is a close too.
            }
        }
    }
}
