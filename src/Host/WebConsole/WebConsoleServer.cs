using System.Net;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Serialization;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Host.Configuration;
using KataWorkflows.Host.Listeners;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Host.WebConsole;

/// <summary>
/// The read-only web console: a second Kestrel server in the host's process, on its own address and port, that serves
/// only the console's pages, assets and JSON. The gRPC services are not mapped on it, so nothing that changes a run
/// or a sandbox can be reached through it. Off unless <c>WebConsole:Port</c> is set.
/// </summary>
internal sealed partial class WebConsoleServer : IHostedService, IAsyncDisposable
{
    private readonly WebConsoleSection _options;
    private readonly TlsMaterial? _tls;
    private readonly ConsoleReader _reader;
    private readonly ConsoleReplay _replay;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private WebApplication? _app;

    /// <summary>Creates the server; nothing listens until the host starts.</summary>
    public WebConsoleServer(
        KataWorkflowsOptions options, WebConsoleTls tls, IOrchestrationStore store, DataConverter converter, IOptionsMonitor<Microsoft.DurableTask.DurableTaskRegistry> registries, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(tls);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options.WebConsole;
        _tls = tls.Material;
        _reader = new ConsoleReader(store, converter);
        // The worker's own registry: AddTasks configures it as the named options of the default worker.
        ArgumentNullException.ThrowIfNull(registries);
        _replay = new ConsoleReplay(registries.Get(Options.DefaultName));
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<WebConsoleServer>();
    }

    /// <summary>The console's base URL once it listens (<c>http://127.0.0.1:PORT</c>); null when it is off.</summary>
    public Uri? Url { get; private set; }

    /// <summary>The path of a run's page under the console's base URL.</summary>
    public static string RunPath(string instanceId) => "/run?id=" + Uri.EscapeDataString(instanceId);

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.Port is not { } port)
        {
            return;
        }

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Services.AddSingleton(_loggerFactory);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));

        // The host's own lifetime handles signals and says it started; this server only follows it.
        builder.Services.AddSingleton<IHostLifetime, FollowerLifetime>();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = 0;
            kestrel.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
            kestrel.Listen(IPAddress.Parse(_options.Address), port, listen =>
            {
                if (_tls is { } tls)
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    KestrelListeners.UseClientCertificateTls(listen, tls);
                }
                else
                {
                    listen.Protocols = HttpProtocols.Http1;
                }
            });
        });
        var app = builder.Build();
        var endpoints = new ConsoleEndpoints(_reader, _replay, ConsoleAssets.Load(), _loggerFactory.CreateLogger<ConsoleEndpoints>());
        app.Run(endpoints.HandleAsync);
        await app.StartAsync(cancellationToken);
        _app = app;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("The web console's Kestrel server reported no address.");
        Url = new Uri(address.Replace("[::]", "localhost", StringComparison.Ordinal));
        LogListening(_logger, Url);
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is { } app)
        {
            await app.StopAsync(cancellationToken);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.DisposeAsync();
        }
    }

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "Web console listening on {ConsoleUrl}")]
    private static partial void LogListening(ILogger logger, Uri consoleUrl);
}

/// <summary>A lifetime that waits for nothing and handles no signal: the host that owns the console does both.</summary>
internal sealed class FollowerLifetime : IHostLifetime
{
    /// <inheritdoc />
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>The web console's TLS material; null when it listens in plaintext on loopback (or is off).</summary>
/// <param name="Material">The server certificate and client CAs.</param>
internal sealed record WebConsoleTls(TlsMaterial? Material);
