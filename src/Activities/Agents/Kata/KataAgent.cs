using System.Collections.Concurrent;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using KataWorkflows.Activities.Store;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Agent.Legacy;
using KataWorkflows.Protocol.Ttrpc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Agents.Kata;

/// <summary>
/// Kata's <c>kataAgent</c> (AgentType <c>kata</c>): the agent API (<c>grpc.AgentService</c>, <c>grpc.Health</c>)
/// over ttrpc on the sandbox's agent channel, a Unix socket at <see cref="KataGuestLayout.AgentSocket"/> under the
/// host store's run root. One long-lived connection per sandbox, as Kata 2.x's shim keeps; it is dialled again after
/// it drops. Timeouts are Kata's: Check 30 s, WaitProcess none, every other call 60 s. The idempotence IAgent asks
/// for comes from the agent's answers: AlreadyExists from CreateSandbox or CreateContainer, NotFound from
/// RemoveContainer, and a DestroySandbox with no VM socket left, all count as done.
/// </summary>
public sealed partial class KataAgent : IAgent, IAsyncDisposable
{
    /// <summary>The agent type name.</summary>
    public const string TypeName = "kata";

    /// <summary>The agent's main service.</summary>
    public const string AgentService = "grpc.AgentService";

    /// <summary>The agent's health service.</summary>
    public const string HealthService = "grpc.Health";

    private readonly ConcurrentDictionary<string, Connection> _connections = new(StringComparer.Ordinal);
    private readonly KataAgentOptions _options;
    private readonly HostStoreOptions _store;
    private readonly TimeProvider _time;
    private readonly ILogger<KataAgent> _logger;

    /// <summary>Creates the driver.</summary>
    public KataAgent(IOptions<KataAgentOptions> options, IOptions<HostStoreOptions> store, TimeProvider time, ILogger<KataAgent> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options.Value;
        _store = store.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>The host path of a sandbox's agent socket.</summary>
    public string SocketPathOf(string sandboxId) => KataGuestLayout.AgentSocket(_store.RunRoot, sandboxId);

    /// <summary>
    /// Checks the agent is serving (<c>grpc.Health/Check</c>, 30 s); Kata's runtime does so before it sets the
    /// guest up, and <see cref="CreateSandboxAsync"/> does too.
    /// </summary>
    public async Task CheckAsync(string sandboxId, CancellationToken cancellationToken)
    {
        var response = await CallAsync(sandboxId, HealthService, "Check", new CheckRequest(), HealthCheckResponse.Parser, _options.CheckTimeout, cancellationToken)
            .ConfigureAwait(false);
        if (response.Status != HealthCheckResponse.Types.ServingStatus.Serving)
        {
            throw new KataAgentException(
                sandboxId,
                SocketPathOf(sandboxId),
                $"{HealthService}/Check",
                StatusCode.Unavailable,
                $"The Kata agent of sandbox '{sandboxId}' on {SocketPathOf(sandboxId)} reports {response.Status}, not SERVING.");
        }
    }

    /// <inheritdoc />
    public async Task CreateSandboxAsync(string sandboxId, SandboxConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        await CheckAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        try
        {
            await CallAsync(sandboxId, AgentService, "CreateSandbox", BuildCreateSandbox(sandboxId, config), Empty, _options.RequestTimeout, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (KataAgentException e) when (e.StatusCode == StatusCode.AlreadyExists)
        {
            Log.AgentSandboxAlreadyCreated(_logger, sandboxId);
        }
    }

    /// <inheritdoc />
    public async Task DestroySandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        var socket = SocketPathOf(sandboxId);
        if (!File.Exists(socket) && !IsConnected(sandboxId))
        {
            // No agent channel: the VM is gone, and the guest side with it.
            Log.AgentSocketGone(_logger, sandboxId, socket);
        }
        else
        {
            await CallAsync(sandboxId, AgentService, "DestroySandbox", new DestroySandboxRequest(), Empty, _options.RequestTimeout, cancellationToken)
                .ConfigureAwait(false);
        }

        await DisconnectAsync(sandboxId).ConfigureAwait(false);
        UnbindAll(sandboxId);
    }

    /// <inheritdoc />
    public async Task<GuestDetails> GetGuestDetailsAsync(string sandboxId, CancellationToken cancellationToken)
    {
        var response = await CallAsync(
            sandboxId,
            AgentService,
            "GetGuestDetails",
            new GuestDetailsRequest { MemBlockSize = true, MemHotplugProbe = true },
            GuestDetailsResponse.Parser,
            _options.RequestTimeout,
            cancellationToken).ConfigureAwait(false);
        return new GuestDetails
        {
            MemBlockSizeBytes = ToInt64(response.MemBlockSizeBytes),
            SupportMemHotplugProbe = response.SupportMemHotplugProbe,
            SupportSeccomp = response.AgentDetails?.SupportsSeccomp ?? false,
        };
    }

    /// <inheritdoc />
    public async Task<ProcessInfo> CreateContainerAsync(string sandboxId, ContainerConfig container, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(container);
        ShareRootfs(sandboxId, container);
        var request = new CreateContainerRequest
        {
            ContainerId = container.Id,
            ExecId = container.Id,
            OCI = BuildSpec(container),
        };
        try
        {
            await CallAsync(sandboxId, AgentService, "CreateContainer", request, Empty, _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (KataAgentException e) when (e.StatusCode == StatusCode.AlreadyExists)
        {
            Log.AgentContainerAlreadyCreated(_logger, sandboxId, container.Id);
        }

        // Kata's buildProcessFromExecID: the token is the exec id; the guest pid is not reported (-1).
        return new ProcessInfo(container.Id, -1, _time.GetUtcNow().UtcDateTime);
    }

    /// <inheritdoc />
    public async Task StartContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync(sandboxId, AgentService, "StartContainer", new StartContainerRequest { ContainerId = containerId }, Empty, _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (KataAgentException e) when (e.StatusCode == StatusCode.FailedPrecondition && e.Message.Contains($"Container {containerId} status running,", StringComparison.Ordinal))
        {
            // A start run again after a crash finds the container started by the first run (Kata's agent answers
            // "Container <id> status running, should be created"): the step is done.
        }
    }

    /// <inheritdoc />
    public async Task RemoveContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync(sandboxId, AgentService, "RemoveContainer", new RemoveContainerRequest { ContainerId = containerId }, Empty, _options.RequestTimeout, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (KataAgentException e) when (e.StatusCode == StatusCode.NotFound)
        {
            Log.AgentContainerAlreadyRemoved(_logger, sandboxId, containerId);
        }

        if (_options.BindMountRootfs)
        {
            BindMounts.Unbind(KataGuestLayout.HostRootfs(_options.SharedDirectory, sandboxId, containerId));
        }
    }

    /// <inheritdoc />
    public Task SignalProcessAsync(string sandboxId, string containerId, string execId, int signal, bool all, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(signal);
        var request = new SignalProcessRequest
        {
            ContainerId = containerId,
            // Kata: all = every process of the container, which the agent reads from an empty exec id.
            ExecId = all ? string.Empty : ExecIdOf(containerId, execId),
            Signal = (uint)signal,
        };
        return CallAsync(sandboxId, AgentService, "SignalProcess", request, Empty, _options.RequestTimeout, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<int> WaitProcessAsync(string sandboxId, string containerId, string execId, CancellationToken cancellationToken)
    {
        var response = await CallAsync(
            sandboxId,
            AgentService,
            "WaitProcess",
            new WaitProcessRequest { ContainerId = containerId, ExecId = ExecIdOf(containerId, execId) },
            WaitProcessResponse.Parser,
            null,
            cancellationToken).ConfigureAwait(false);
        return response.Status;
    }

    private const uint ReadChunkBytes = 32 * 1024;

    /// <inheritdoc />
    public async Task<byte[]> ReadOutputAsync(string sandboxId, string containerId, string execId, bool stderr, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        var method = stderr ? "ReadStderr" : "ReadStdout";
        using var kept = new MemoryStream();
        while (true)
        {
            ReadStreamResponse response;
            try
            {
                // A read waits until the process writes or ends: no timeout beyond the caller's token.
                response = await CallAsync(
                    sandboxId,
                    AgentService,
                    method,
                    new ReadStreamRequest { ContainerId = containerId, ExecId = ExecIdOf(containerId, execId), Len = ReadChunkBytes },
                    ReadStreamResponse.Parser,
                    null,
                    cancellationToken).ConfigureAwait(false);
            }
            catch (KataAgentException e) when (e.StatusCode == StatusCode.Unknown && e.Message.EndsWith(": EOF", StringComparison.Ordinal))
            {
                // Kata's agent ends a stream with io.EOF, which gRPC carries as Unknown "EOF".
                return kept.ToArray();
            }

            var room = maxBytes - (int)kept.Length;
            if (room > 0)
            {
                kept.Write(response.Data.Span[..Math.Min(room, response.Data.Length)]);
            }
        }
    }

    /// <inheritdoc />
    public async Task<ProcessInfo> ExecProcessAsync(string sandboxId, string containerId, Cmd cmd, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cmd);

        // Kata names an exec by a fresh UUID, which is also its token.
        var execId = Guid.NewGuid().ToString();
        var request = new ExecProcessRequest
        {
            ContainerId = containerId,
            ExecId = execId,
            StringUser = StringUserOf(cmd.User),
            Process = BuildProcess(cmd),
        };
        await CallAsync(sandboxId, AgentService, "ExecProcess", request, Empty, _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        return new ProcessInfo(execId, -1, _time.GetUtcNow().UtcDateTime);
    }

    /// <inheritdoc />
    public Task UpdateContainerAsync(string sandboxId, string containerId, ContainerResources resources, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resources);
        var request = new UpdateContainerRequest { ContainerId = containerId, Resources = BuildResources(resources) };
        return CallAsync(sandboxId, AgentService, "UpdateContainer", request, Empty, _options.RequestTimeout, cancellationToken);
    }

    /// <inheritdoc />
    public Task PauseContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken) =>
        CallAsync(sandboxId, AgentService, "PauseContainer", new PauseContainerRequest { ContainerId = containerId }, Empty, _options.RequestTimeout, cancellationToken);

    /// <inheritdoc />
    public Task ResumeContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken) =>
        CallAsync(sandboxId, AgentService, "ResumeContainer", new ResumeContainerRequest { ContainerId = containerId }, Empty, _options.RequestTimeout, cancellationToken);

    /// <inheritdoc />
    public async Task<ContainerStats> StatsContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken)
    {
        var response = await CallAsync(
            sandboxId,
            AgentService,
            "StatsContainer",
            new StatsContainerRequest { ContainerId = containerId },
            StatsContainerResponse.Parser,
            _options.RequestTimeout,
            cancellationToken).ConfigureAwait(false);
        return ToStats(response);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ProcessRow>> ListProcessesAsync(string sandboxId, string containerId, CancellationToken cancellationToken)
    {
        var request = new ListProcessesRequest { ContainerId = containerId, Format = "table", Args = { "-ef" } };
        var response = await CallAsync(sandboxId, AgentService, "ListProcesses", request, ListProcessesResponse.Parser, _options.RequestTimeout, cancellationToken)
            .ConfigureAwait(false);
        return ParseProcessTable(response.ProcessList.ToStringUtf8());
    }

    /// <inheritdoc />
    public async Task<InterfaceRecord> UpdateInterfaceAsync(string sandboxId, InterfaceRecord iface, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(iface);
        var response = await CallAsync(
            sandboxId,
            AgentService,
            "UpdateInterface",
            new UpdateInterfaceRequest { Interface = ToAgent(iface) },
            Protocol.Agent.Types.Interface.Parser,
            _options.RequestTimeout,
            cancellationToken).ConfigureAwait(false);
        return FromAgent(response);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<RouteRecord>> UpdateRoutesAsync(string sandboxId, IReadOnlyList<RouteRecord> routes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(routes);
        var request = new UpdateRoutesRequest { Routes = new Routes() };
        request.Routes.Routes_.AddRange(routes.Select(ToAgent));
        var response = await CallAsync(sandboxId, AgentService, "UpdateRoutes", request, Routes.Parser, _options.RequestTimeout, cancellationToken)
            .ConfigureAwait(false);
        return response.Routes_.Select(FromAgent).ToList();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<InterfaceRecord>> ListInterfacesAsync(string sandboxId, CancellationToken cancellationToken)
    {
        var response = await CallAsync(sandboxId, AgentService, "ListInterfaces", new ListInterfacesRequest(), Interfaces.Parser, _options.RequestTimeout, cancellationToken)
            .ConfigureAwait(false);
        return response.Interfaces_.Select(FromAgent).ToList();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<RouteRecord>> ListRoutesAsync(string sandboxId, CancellationToken cancellationToken)
    {
        var response = await CallAsync(sandboxId, AgentService, "ListRoutes", new ListRoutesRequest(), Routes.Parser, _options.RequestTimeout, cancellationToken)
            .ConfigureAwait(false);
        return response.Routes_.Select(FromAgent).ToList();
    }

    /// <summary>Closes every agent connection.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var sandboxId in _connections.Keys.ToList())
        {
            await DisconnectAsync(sandboxId).ConfigureAwait(false);
        }
    }

    private static MessageParser<Google.Protobuf.WellKnownTypes.Empty> Empty => Google.Protobuf.WellKnownTypes.Empty.Parser;

    private static string ExecIdOf(string containerId, string execId) => string.IsNullOrEmpty(execId) ? containerId : execId;

    private bool IsConnected(string sandboxId) => _connections.TryGetValue(sandboxId, out var c) && c.Client is { IsConnected: true };

    private async Task<TResponse> CallAsync<TResponse>(
        string sandboxId,
        string service,
        string method,
        IMessage request,
        MessageParser<TResponse> parser,
        TimeSpan? timeout,
        CancellationToken cancellationToken)
        where TResponse : IMessage<TResponse>
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        var socket = SocketPathOf(sandboxId);
        for (var attempt = 1; ; attempt++)
        {
            var (client, dialled) = await ConnectAsync(sandboxId, socket, cancellationToken).ConfigureAwait(false);
            try
            {
                return await client.CallAsync(service, method, request, parser, timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TtrpcException e) when (e is { StatusCode: StatusCode.Unavailable, RequestSent: false } && !dialled && attempt == 1)
            {
                // The kept connection had dropped (the agent restarted, the channel was reset) before this request went
                // out, so the agent never saw it: dial again and send it once more.
            }
            catch (TtrpcException e)
            {
                throw Failed(sandboxId, socket, service, method, timeout, e);
            }
        }
    }

    private static KataAgentException Failed(string sandboxId, string socket, string service, string method, TimeSpan? timeout, TtrpcException e)
    {
        var rpc = $"{service}/{method}";
        var message = e.StatusCode switch
        {
            StatusCode.Unavailable =>
                $"The Kata agent of sandbox '{sandboxId}' did not answer {rpc} on {socket}: {e.StatusMessage}.",
            StatusCode.DeadlineExceeded when e.StatusMessage.StartsWith("no response within", StringComparison.Ordinal) =>
                $"The Kata agent of sandbox '{sandboxId}' did not answer {rpc} on {socket} within {timeout}.",
            _ => $"The Kata agent of sandbox '{sandboxId}' (socket {socket}) answered {rpc} with {e.StatusCode}: {e.StatusMessage}",
        };
        return new KataAgentException(sandboxId, socket, rpc, e.StatusCode, message, e);
    }

    private async Task<(TtrpcClient Client, bool Dialled)> ConnectAsync(string sandboxId, string socket, CancellationToken cancellationToken)
    {
        var connection = _connections.GetOrAdd(sandboxId, _ => new Connection());
        if (connection.Client is { IsConnected: true } open)
        {
            return (open, false);
        }

        await connection.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (connection.Client is { IsConnected: true } raced)
            {
                return (raced, false);
            }

            if (connection.Client is { } dropped)
            {
                Log.AgentReconnecting(_logger, sandboxId, socket, dropped.ClosedReason ?? "closed");
                await dropped.DisposeAsync().ConfigureAwait(false);
                connection.Client = null;
            }

            var stream = await DialAsync(sandboxId, socket, cancellationToken).ConfigureAwait(false);
            connection.Client = new TtrpcClient(stream);
            Log.AgentConnected(_logger, sandboxId, socket);
            return (connection.Client, true);
        }
        finally
        {
            connection.Gate.Release();
        }
    }

    private async Task<Stream> DialAsync(string sandboxId, string socket, CancellationToken cancellationToken)
    {
        // The socket appears, and accepts, once the hypervisor is up: retry until the dial timeout, as Kata does.
        var deadline = _time.GetUtcNow() + _options.DialTimeout;
        while (true)
        {
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(_options.DialTimeout);
            try
            {
                return await TtrpcUnixSocket.ConnectAsync(socket, attempt.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw Unreachable(sandboxId, socket, "the connection was not accepted");
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused or SocketError.TryAgain)
            {
                if (_time.GetUtcNow() >= deadline)
                {
                    throw Unreachable(sandboxId, socket, e.Message);
                }
            }
            catch (SocketException e)
            {
                throw Unreachable(sandboxId, socket, e.Message);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private KataAgentException Unreachable(string sandboxId, string socket, string reason) =>
        new(
            sandboxId,
            socket,
            null,
            StatusCode.Unavailable,
            $"The Kata agent of sandbox '{sandboxId}' is unreachable: nothing accepted a connection on {socket} within {_options.DialTimeout} ({reason}); is the sandbox's VM running?");

    private async Task DisconnectAsync(string sandboxId)
    {
        if (_connections.TryRemove(sandboxId, out var connection))
        {
            if (connection.Client is { } client)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private void ShareRootfs(string sandboxId, ContainerConfig container)
    {
        if (!_options.BindMountRootfs)
        {
            return;
        }

        if (string.IsNullOrEmpty(container.RootFs))
        {
            throw new InvalidSandboxArgumentException(
                "containerConfig.rootFs",
                $"Container '{container.Id}' of sandbox '{sandboxId}' has no rootFs: the Kata agent needs the host directory of its root file system.");
        }

        var target = KataGuestLayout.HostRootfs(_options.SharedDirectory, sandboxId, container.Id);
        if (Path.GetFullPath(container.RootFs).TrimEnd('/') != target)
        {
            BindMounts.Bind(container.RootFs, target);
        }
    }

    private void UnbindAll(string sandboxId)
    {
        if (!_options.BindMountRootfs)
        {
            return;
        }

        var share = KataGuestLayout.HostShare(_options.SharedDirectory, sandboxId);
        foreach (var mount in BindMounts.MountsUnder(share))
        {
            BindMounts.Unbind(mount);
        }
    }

    private sealed class Connection
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public TtrpcClient? Client { get; set; }
    }
}
