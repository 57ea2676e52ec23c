using System.CommandLine;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using KataWorkflows.Cli.Output;
using KataWorkflows.Cli.Transport;
using KataWorkflows.Protocol.V1;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Cli;

/// <summary>
/// One run of one command: its parse result, where it writes, the connection (opened on first use) and the
/// cancellation that <c>--timeout</c> and Ctrl+C trigger.
/// </summary>
public sealed class Invocation : IAsyncDisposable
{
    private readonly GlobalOptions _options;
    private readonly CancellationTokenSource _cancellation;
    private readonly TimeSpan? _timeout;
    private GrpcChannel? _channel;

    internal Invocation(ParseResult parse, GlobalOptions options, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        Parse = parse;
        _options = options;
        Out = output;
        Err = error;
        Json = parse.GetValue(options.Json);
        NoWait = parse.GetValue(options.NoWait);
        RequestId = parse.GetValue(options.RequestId);
        _timeout = options.TimeoutValue(parse);
        _ = options.ConsoleBase(parse);
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (_timeout is { } timeout)
        {
            _cancellation.CancelAfter(timeout);
        }
    }

    /// <summary>The parse result.</summary>
    public ParseResult Parse { get; }

    /// <summary>Standard output: results.</summary>
    public TextWriter Out { get; }

    /// <summary>Standard error: errors and notes.</summary>
    public TextWriter Err { get; }

    /// <summary>True with <c>--json</c>.</summary>
    public bool Json { get; }

    /// <summary>True with <c>--no-wait</c>.</summary>
    public bool NoWait { get; }

    /// <summary>The <c>--request-id</c>, if given.</summary>
    public string? RequestId { get; }

    /// <summary>Cancelled by <c>--timeout</c> or Ctrl+C.</summary>
    public CancellationToken Token => _cancellation.Token;

    /// <summary>The <c>--timeout</c>, if given.</summary>
    public TimeSpan? Timeout => _timeout;

    /// <summary>Where the CLI connects, for messages.</summary>
    public string Target => _options.Connection(Parse).Describe();

    /// <summary>The Sandboxes API client.</summary>
    public Sandboxes.SandboxesClient Sandboxes => new(Channel());

    /// <summary>The Durable Task sidecar client.</summary>
    public TaskHubSidecarService.TaskHubSidecarServiceClient TaskHub => new(Channel());

    /// <summary>Call options carrying the cancellation token.</summary>
    public CallOptions CallOptions => new(cancellationToken: Token);

    /// <summary>The web console's page of a run, when <c>--console-url</c> (or <c>KWF_CONSOLE_URL</c>) is set; else null.</summary>
    /// <exception cref="CliException">A usage error: the console URL is malformed.</exception>
    public string? ConsoleRunUrl(string instanceId) => _options.ConsoleRunUrl(Parse, instanceId);

    /// <summary>Writes a JSON document to stdout.</summary>
    public void WriteJson(JsonNode? node) => Out.Write(JsonText.Format(node));

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_channel is not null)
        {
            await _channel.ShutdownAsync().ConfigureAwait(false);
            _channel.Dispose();
        }

        _cancellation.Dispose();
    }

    private GrpcChannel Channel() => _channel ??= ChannelFactory.Create(_options.Connection(Parse));
}
