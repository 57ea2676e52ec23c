using System.Collections.Concurrent;
using System.Net.Sockets;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Agent.Legacy;
using KataWorkflows.Protocol.Ttrpc;
using AgentTypes = KataWorkflows.Protocol.Agent.Types;

namespace KataWorkflows.Activities.Tests.Agents.Kata;

/// <summary>
/// A ttrpc server on a sandbox's agent socket that serves Kata's agent RPCs by recording each request (method,
/// message, the caller's timeout) and answering with what the test set; a method can be made to fail with a status.
/// </summary>
internal sealed class RecordingAgentServer : IAsyncDisposable
{
    private readonly TtrpcServer _server = new();
    private readonly ConcurrentDictionary<string, TtrpcException> _failures = new(StringComparer.Ordinal);
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;

    private RecordingAgentServer(string socketPath)
    {
        SocketPath = socketPath;
        Directory.CreateDirectory(Path.GetDirectoryName(socketPath)!);
        Register();
        _listener = TtrpcUnixSocket.Listen(socketPath);
        _serving = _server.ServeAsync(_listener, _stop.Token);
    }

    public string SocketPath { get; }

    public ConcurrentQueue<RecordedCall> Calls { get; } = new();

    public IEnumerable<string> Methods => Calls.Select(c => c.Method);

    public int WaitStatus { get; set; }

    public string ProcessTable { get; set; } = string.Empty;

    public StatsContainerResponse Stats { get; set; } = new();

    public GuestDetailsResponse GuestDetails { get; set; } = new();

    public Interfaces Interfaces { get; set; } = new();

    public Routes Routes { get; set; } = new();

    /// <summary>Set when a WaitProcess has arrived.</summary>
    public TaskCompletionSource WaitArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes a WaitProcess when set; it waits until then.</summary>
    public TaskCompletionSource WaitGate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static RecordingAgentServer Start(string socketPath) => new(socketPath);

    public void Fail(string method, TtrpcException failure) => _failures[method] = failure;

    public T Single<T>(string method)
        where T : IMessage => (T)Calls.Single(c => c.Method == method).Request;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _serving;
        await _server.DisposeAsync();
        _stop.Dispose();
        File.Delete(SocketPath);
    }

    private void Register()
    {
        On("grpc.Health", "Check", CheckRequest.Parser, _ => new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving });
        const string A = "grpc.AgentService";
        On(A, "CreateSandbox", CreateSandboxRequest.Parser, _ => new Empty());
        On(A, "DestroySandbox", DestroySandboxRequest.Parser, _ => new Empty());
        On(A, "GetGuestDetails", GuestDetailsRequest.Parser, _ => GuestDetails);
        On(A, "CreateContainer", CreateContainerRequest.Parser, _ => new Empty());
        On(A, "StartContainer", StartContainerRequest.Parser, _ => new Empty());
        On(A, "RemoveContainer", RemoveContainerRequest.Parser, _ => new Empty());
        On(A, "SignalProcess", SignalProcessRequest.Parser, _ => new Empty());
        On(A, "ExecProcess", ExecProcessRequest.Parser, _ => new Empty());
        On(A, "UpdateContainer", UpdateContainerRequest.Parser, _ => new Empty());
        On(A, "PauseContainer", PauseContainerRequest.Parser, _ => new Empty());
        On(A, "ResumeContainer", ResumeContainerRequest.Parser, _ => new Empty());
        On(A, "StatsContainer", StatsContainerRequest.Parser, _ => Stats);
        On(A, "ListProcesses", ListProcessesRequest.Parser, _ => new ListProcessesResponse { ProcessList = ByteString.CopyFromUtf8(ProcessTable) });
        On(A, "UpdateInterface", UpdateInterfaceRequest.Parser, r => r.Interface ?? new AgentTypes.Interface());
        On(A, "UpdateRoutes", UpdateRoutesRequest.Parser, r => r.Routes ?? new Routes());
        On(A, "ListInterfaces", ListInterfacesRequest.Parser, _ => Interfaces);
        On(A, "ListRoutes", ListRoutesRequest.Parser, _ => Routes);
        _server.Register(A, "WaitProcess", WaitProcessRequest.Parser, async (request, context, cancellationToken) =>
        {
            Record("WaitProcess", request, context);
            WaitArrived.TrySetResult();
            await WaitGate.Task.WaitAsync(cancellationToken);
            return new WaitProcessResponse { Status = WaitStatus };
        });
    }

    private void On<TRequest, TResponse>(string service, string method, MessageParser<TRequest> parser, Func<TRequest, TResponse> respond)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage
    {
        _server.Register(service, method, parser, (request, context, _) =>
        {
            Record(method, request, context);
            return _failures.TryGetValue(method, out var failure) ? throw failure : Task.FromResult(respond(request));
        });
    }

    private void Record(string method, IMessage request, TtrpcCallContext context) =>
        Calls.Enqueue(new RecordedCall($"{context.Service}/{method}", request, context.Timeout));
}

/// <summary>One request the agent server received.</summary>
internal sealed record RecordedCall(string Method, IMessage Request, TimeSpan? Timeout);
