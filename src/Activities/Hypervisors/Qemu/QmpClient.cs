using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>
/// A client of QEMU's machine protocol (QMP) over its Unix socket: JSON objects, one per line. On connect it reads the
/// greeting and negotiates with <c>qmp_capabilities</c>; each command is sent with an <c>id</c> and its answer matched by
/// it, so answers and asynchronous events may interleave in any order. The last events are kept for diagnostics, and
/// an event can be awaited (<see cref="WatchEvent"/>). What QEMU sends is bounded: a line longer than
/// <see cref="MaxLineBytes"/> ends the connection with a <see cref="QmpProtocolException"/> that says so, and every call
/// has a timeout. Calls may be made concurrently.
/// </summary>
public sealed class QmpClient : IAsyncDisposable
{
    /// <summary>The default limit of one line from QEMU (1 MiB: far above any answer the driver asks for).</summary>
    public const int DefaultMaxLineBytes = 1 << 20;

    /// <summary>How many of the last events are kept.</summary>
    public const int RecentEventCapacity = 32;

    /// <summary>The default timeout of a call.</summary>
    public static readonly TimeSpan DefaultCallTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly ConcurrentDictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly List<QmpEventWatch> _watches = [];
    private readonly Queue<QmpEvent> _recent = new();
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<JsonElement> _greeting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeSpan _callTimeout;
    private Task _reader = Task.CompletedTask;
    private Exception? _closed;
    private long _nextId;
    private int _disposed;

    private QmpClient(Socket socket, string socketPath, int maxLineBytes, TimeSpan callTimeout)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        SocketPath = socketPath;
        MaxLineBytes = maxLineBytes;
        _callTimeout = callTimeout;
    }

    /// <summary>The QMP socket.</summary>
    public string SocketPath { get; }

    /// <summary>The limit of one line from QEMU, in bytes.</summary>
    public int MaxLineBytes { get; }

    /// <summary>QEMU's version from the greeting (<c>7.2.22</c>).</summary>
    public string QemuVersion { get; private set; } = string.Empty;

    /// <summary>Why the connection ended, or null while it is open.</summary>
    public Exception? Closed => Volatile.Read(ref _closed);

    /// <summary>The last <see cref="RecentEventCapacity"/> events, oldest first.</summary>
    public IReadOnlyList<QmpEvent> RecentEvents
    {
        get
        {
            lock (_gate)
            {
                return _recent.ToList();
            }
        }
    }

    /// <summary>Connects, reads the greeting and leaves capabilities negotiation mode.</summary>
    /// <param name="socketPath">QEMU's QMP socket.</param>
    /// <param name="timeout">How long connecting, the greeting and <c>qmp_capabilities</c> may take, and the default timeout of later calls.</param>
    /// <param name="maxLineBytes">The limit of one line from QEMU.</param>
    /// <param name="cancellationToken">Cancels the connection attempt.</param>
    /// <exception cref="SocketException">Nothing accepts connections on the socket.</exception>
    /// <exception cref="TimeoutException">QEMU did not greet or answer within the timeout.</exception>
    /// <exception cref="QmpProtocolException">What QEMU sent is not QMP, or it closed the connection.</exception>
    public static async Task<QmpClient> ConnectAsync(string socketPath, TimeSpan timeout, int maxLineBytes, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineBytes, 256);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        QmpClient? client = null;
        try
        {
            using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                connect.CancelAfter(timeout);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), connect.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"Connecting to QMP on {socketPath} took more than {timeout}.");
                }
            }

            client = new QmpClient(socket, socketPath, maxLineBytes, timeout);
            client._reader = Task.Run(client.ReadLoopAsync, CancellationToken.None);
            JsonElement greeting;
            try
            {
                greeting = await client._greeting.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"QEMU sent no QMP greeting on {socketPath} within {timeout}.");
            }

            client.QemuVersion = VersionOf(greeting);
            await client.ExecuteAsync("qmp_capabilities", null, timeout, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            if (client is not null)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                socket.Dispose();
            }

            throw;
        }
    }

    /// <summary>Runs a command and returns its <c>return</c> value.</summary>
    /// <exception cref="QmpException">QEMU answered with an error.</exception>
    /// <exception cref="TimeoutException">No answer within the timeout (the default of the connection when null).</exception>
    /// <exception cref="QmpProtocolException">The connection ended.</exception>
    public async Task<JsonElement> ExecuteAsync(string command, JsonObject? arguments = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        ThrowIfClosed();
        var id = "kwf-" + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var pending = new Pending(command);
        _pending[id] = pending;
        if (Closed is { } closed)
        {
            _pending.TryRemove(id, out _);
            throw Ended(closed);
        }

        var limit = timeout ?? _callTimeout;
        try
        {
            var message = new JsonObject { ["execute"] = command };
            if (arguments is not null)
            {
                message["arguments"] = arguments.DeepClone();
            }

            message["id"] = id;
            var bytes = JsonSerializer.SerializeToUtf8Bytes(message, QmpJsonContext.Default.JsonObject);
            await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await _stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                await _stream.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                Fail(new QmpProtocolException($"Writing QMP {command} to {SocketPath} failed: {ex.Message}", ex));
                throw Ended(Closed!);
            }
            finally
            {
                _writeGate.Release();
            }

            try
            {
                return await pending.Answer.Task.WaitAsync(limit, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"QMP {command} on {SocketPath} got no answer within {limit}.");
            }
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// Starts watching for an event (and, when <paramref name="match"/> is given, one it accepts). Register the watch
    /// before sending the command that causes the event; dispose it when done.
    /// </summary>
    public QmpEventWatch WatchEvent(string name, Func<QmpEvent, bool>? match = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var watch = new QmpEventWatch(name, match, Unwatch);
        lock (_gate)
        {
            if (Closed is { } closed)
            {
                watch.Fail(Ended(closed));
            }
            else
            {
                _watches.Add(watch);
            }
        }

        return watch;
    }

    /// <summary><c>query-status</c>.</summary>
    public async Task<QmpStatus> QueryStatusAsync(CancellationToken cancellationToken)
    {
        var result = await ExecuteAsync("query-status", cancellationToken: cancellationToken).ConfigureAwait(false);
        var status = result.ValueKind == JsonValueKind.Object && result.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String
            ? s.GetString()!
            : throw new QmpProtocolException($"query-status on {SocketPath} answered without a status: {Truncate(result.GetRawText())}");
        var running = result.TryGetProperty("running", out var r) && r.ValueKind == JsonValueKind.True;
        return new QmpStatus(status, running);
    }

    /// <summary><c>stop</c>: freezes the vCPUs.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => ExecuteAsync("stop", cancellationToken: cancellationToken);

    /// <summary><c>cont</c>: runs the vCPUs.</summary>
    public Task ContAsync(CancellationToken cancellationToken) => ExecuteAsync("cont", cancellationToken: cancellationToken);

    /// <summary><c>quit</c>: QEMU exits; the connection ends with it, which is not an error here.</summary>
    public async Task QuitAsync(CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync("quit", cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (QmpProtocolException)
        {
            // QEMU may close the socket before its answer is read.
        }
    }

    /// <summary><c>netdev_add</c> of a tap backend on an existing tap device, with no scripts.</summary>
    public Task NetdevAddTapAsync(string id, string ifname, CancellationToken cancellationToken) =>
        ExecuteAsync("netdev_add", new JsonObject { ["type"] = "tap", ["id"] = id, ["ifname"] = ifname, ["script"] = "no", ["downscript"] = "no" }, cancellationToken: cancellationToken);

    /// <summary><c>netdev_del</c>.</summary>
    public Task NetdevDelAsync(string id, CancellationToken cancellationToken) =>
        ExecuteAsync("netdev_del", new JsonObject { ["id"] = id }, cancellationToken: cancellationToken);

    /// <summary><c>device_add</c> with the given properties (<c>driver</c>, <c>id</c>, <c>bus</c>...).</summary>
    public Task DeviceAddAsync(JsonObject properties, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(properties);
        return ExecuteAsync("device_add", properties, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// <c>device_del</c>, then waits for the guest to release the device (the <c>DEVICE_DELETED</c> event naming it).
    /// </summary>
    /// <exception cref="TimeoutException">The guest did not release it within <paramref name="timeout"/>.</exception>
    public async Task DeviceDelAsync(string id, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        using var deleted = WatchEvent("DEVICE_DELETED", e => e.DataString("device") == id);
        await ExecuteAsync("device_del", new JsonObject { ["id"] = id }, cancellationToken: cancellationToken).ConfigureAwait(false);
        await deleted.WaitAsync(timeout, $"the guest releasing device {id}", cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>blockdev-add</c> with the given node description.</summary>
    public Task BlockdevAddAsync(JsonObject node, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(node);
        return ExecuteAsync("blockdev-add", node, cancellationToken: cancellationToken);
    }

    /// <summary><c>blockdev-del</c>.</summary>
    public Task BlockdevDelAsync(string nodeName, CancellationToken cancellationToken) =>
        ExecuteAsync("blockdev-del", new JsonObject { ["node-name"] = nodeName }, cancellationToken: cancellationToken);

    /// <summary><c>query-pci</c>: the PCI buses and their devices.</summary>
    public Task<JsonElement> QueryPciAsync(CancellationToken cancellationToken) => ExecuteAsync("query-pci", cancellationToken: cancellationToken);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Fail(new QmpProtocolException($"The QMP connection to {SocketPath} was closed by this host."));
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        try
        {
            await _reader.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The reader ends on the disposed socket; its failure was recorded.
        }

        await _stream.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
        _writeGate.Dispose();
    }

    private static string VersionOf(JsonElement greeting)
    {
        if (greeting.TryGetProperty("version", out var version) && version.TryGetProperty("qemu", out var qemu)
            && qemu.TryGetProperty("major", out var major) && qemu.TryGetProperty("minor", out var minor) && qemu.TryGetProperty("micro", out var micro))
        {
            return $"{major.GetRawText()}.{minor.GetRawText()}.{micro.GetRawText()}";
        }

        return string.Empty;
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "...";

    private static DateTimeOffset TimestampOf(JsonElement root)
    {
        if (root.TryGetProperty("timestamp", out var t) && t.ValueKind == JsonValueKind.Object
            && t.TryGetProperty("seconds", out var s) && s.TryGetInt64(out var seconds)
            && t.TryGetProperty("microseconds", out var us) && us.TryGetInt64(out var micro)
            && seconds is >= 0 and < 253_402_300_799 && micro is >= 0 and < 1_000_000)
        {
            return DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(micro * 10);
        }

        return DateTimeOffset.MinValue;
    }

    private QmpProtocolException Ended(Exception closed) =>
        closed as QmpProtocolException ?? new QmpProtocolException($"The QMP connection to {SocketPath} ended: {closed.Message}", closed);

    private void ThrowIfClosed()
    {
        if (Closed is { } closed)
        {
            throw Ended(closed);
        }
    }

    private void Unwatch(QmpEventWatch watch)
    {
        lock (_gate)
        {
            _watches.Remove(watch);
        }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[Math.Min(64 * 1024, MaxLineBytes + 1)];
        int start = 0, end = 0;
        try
        {
            while (true)
            {
                var newline = Array.IndexOf(buffer, (byte)'\n', start, end - start);
                if (newline >= 0)
                {
                    Dispatch(buffer.AsSpan(start, newline - start));
                    start = newline + 1;
                    continue;
                }

                if (end - start > MaxLineBytes)
                {
                    throw new QmpProtocolException($"QEMU sent a QMP line longer than {MaxLineBytes} bytes on {SocketPath}; the connection was closed.");
                }

                if (start > 0)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                    end -= start;
                    start = 0;
                }

                if (end == buffer.Length)
                {
                    Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, MaxLineBytes + 1L));
                }

                var read = await _stream.ReadAsync(buffer.AsMemory(end), _stop.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new QmpProtocolException(end > start
                        ? $"QEMU closed the QMP connection on {SocketPath} in the middle of a line ({end - start} bytes)."
                        : $"QEMU closed the QMP connection on {SocketPath} (it exited or another client took over).");
                }

                end += read;
            }
        }
        catch (Exception ex)
        {
            Fail(ex switch
            {
                QmpProtocolException => ex,
                OperationCanceledException or ObjectDisposedException => new QmpProtocolException($"The QMP connection to {SocketPath} was closed by this host.", ex),
                _ => new QmpProtocolException($"Reading QMP from {SocketPath} failed: {ex.Message}", ex),
            });
        }
    }

    private void Dispatch(ReadOnlySpan<byte> line)
    {
        if (line.Length > 0 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        if (line.IsEmpty)
        {
            return;
        }

        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(line.ToArray());
            root = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new QmpProtocolException($"QEMU sent a QMP line that is not JSON on {SocketPath}: {ex.Message}", ex);
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new QmpProtocolException($"QEMU sent a QMP line that is not a JSON object on {SocketPath}: {Truncate(root.GetRawText())}");
        }

        if (root.TryGetProperty("QMP", out var greeting))
        {
            _greeting.TrySetResult(greeting);
        }
        else if (root.TryGetProperty("event", out var name) && name.ValueKind == JsonValueKind.String)
        {
            OnEvent(new QmpEvent(name.GetString()!, root.TryGetProperty("data", out var data) ? data : default, TimestampOf(root)));
        }
        else if (root.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String && _pending.TryRemove(id.GetString()!, out var pending))
        {
            if (root.TryGetProperty("return", out var result))
            {
                pending.Answer.TrySetResult(result);
            }
            else if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                var errorClass = error.TryGetProperty("class", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "unknown";
                var desc = error.TryGetProperty("desc", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : string.Empty;
                pending.Answer.TrySetException(new QmpException(pending.Command, errorClass, desc, SocketPath));
            }
            else
            {
                pending.Answer.TrySetException(new QmpProtocolException($"QEMU answered QMP {pending.Command} on {SocketPath} with neither return nor error: {Truncate(root.GetRawText())}"));
            }
        }

        // An answer with an unknown id belongs to a call that timed out; it is dropped.
    }

    private void OnEvent(QmpEvent qmpEvent)
    {
        List<QmpEventWatch> matched = [];
        lock (_gate)
        {
            _recent.Enqueue(qmpEvent);
            while (_recent.Count > RecentEventCapacity)
            {
                _recent.Dequeue();
            }

            foreach (var watch in _watches)
            {
                if (watch.Name == qmpEvent.Name && (watch.Match is null || watch.Match(qmpEvent)))
                {
                    matched.Add(watch);
                }
            }

            foreach (var watch in matched)
            {
                _watches.Remove(watch);
            }
        }

        foreach (var watch in matched)
        {
            watch.TryComplete(qmpEvent);
        }
    }

    private void Fail(Exception reason)
    {
        if (Interlocked.CompareExchange(ref _closed, reason, null) is not null)
        {
            return;
        }

        var ended = Ended(reason);
        _greeting.TrySetException(ended);
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var pending))
            {
                pending.Answer.TrySetException(ended);
            }
        }

        List<QmpEventWatch> watches;
        lock (_gate)
        {
            watches = [.. _watches];
            _watches.Clear();
        }

        foreach (var watch in watches)
        {
            watch.Fail(ended);
        }
    }

    private sealed class Pending(string command)
    {
        public string Command { get; } = command;

        public TaskCompletionSource<JsonElement> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
