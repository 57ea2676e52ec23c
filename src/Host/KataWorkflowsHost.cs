using Grpc.AspNetCore.Server.Model;
using KataWorkflows.Activities;
using KataWorkflows.Engine;
using KataWorkflows.Host.Configuration;
using KataWorkflows.Host.Listeners;
using KataWorkflows.Host.Services;
using KataWorkflows.Host.Systemd;
using KataWorkflows.Host.Telemetry;
using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Sandboxes;
using KataWorkflows.Storage.Sqlite;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace KataWorkflows.Host;

/// <summary>Composes the host: configuration, logs, telemetry, the engine, the listeners and the gRPC services.</summary>
internal static class KataWorkflowsHost
{
    /// <summary>
    /// Builds the host from appsettings.json, <c>KataWorkflows__*</c> variables and command-line arguments
    /// (<c>--KataWorkflows:Key=value</c>). Nothing listens until the application is started.
    /// </summary>
    /// <exception cref="HostConfigurationException">The configuration is invalid; the message names the key.</exception>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        var options = HostOptionsValidator.Load(builder.Configuration);
        builder.Services.AddSingleton(options);

        ConfigureLogging(builder, options.Logging);
        builder.Services.AddHostTelemetry(options.Telemetry);

        var unixSocket = UnixSocketListener.Prepare(options.Listen);
        var tls = KestrelListeners.LoadTls(options.Listen.Tcp);
        builder.WebHost.ConfigureKestrel(kestrel => KestrelListeners.Configure(kestrel, options, unixSocket, tls));
        builder.Services.AddSingleton(unixSocket);

        try
        {
            Directory.CreateDirectory(options.StateDirectory, UnixSocketListener.DirectoryMode);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new HostConfigurationException([$"{KataWorkflowsOptions.SectionName}:StateDirectory: cannot create '{options.StateDirectory}': {ex.Message}"], ex);
        }

        var mockState = string.IsNullOrEmpty(options.MockDrivers.StateDirectory) ? null : options.MockDrivers.StateDirectory;
        if (mockState is not null)
        {
            try
            {
                Directory.CreateDirectory(mockState, UnixSocketListener.DirectoryMode);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new HostConfigurationException([$"{KataWorkflowsOptions.SectionName}:MockDrivers:StateDirectory: cannot create '{mockState}': {ex.Message}"], ex);
            }
        }

        builder.Services.AddHostedService<StoreStartup>();
        builder.Services.AddSandboxDrivers(
            store => store.RunRoot = options.RunRoot,
            faults => faults.Spec = options.Faults.Spec,
            mock => mock.StateDirectory = mockState);
        builder.Services.AddDurableTaskEngine(engine =>
        {
            if (options.Store.Kind == StoreKind.Sqlite)
            {
                engine.UseSqlite(o =>
                {
                    o.Path = options.Store.Sqlite.Path ?? Path.Combine(options.StateDirectory, "store.db");
                    o.Synchronous = options.Store.Sqlite.Synchronous;
                });
            }
            else
            {
                engine.UseInMemory();
            }

            engine.ConfigureWorker(w =>
            {
                w.MaxConcurrentOrchestrations = options.Worker.MaxConcurrentOrchestrations;
                w.MaxConcurrentActivities = options.Worker.MaxConcurrentActivities;
                w.MaxConcurrentEntities = options.Worker.MaxConcurrentEntities;
                w.MaxOrchestrationSessions = options.Worker.MaxOrchestrationSessions;
                w.ShutdownTimeout = options.Worker.ShutdownTimeout;
            });
            engine.AddTasks(tasks => tasks.AddSandboxOrchestrations().AddSandboxActivities());
        });
        builder.Services.AddSingleton<SandboxClient>();

        // The worker gets the whole shutdown timeout to drain, and the store closes after it.
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(o => o.ShutdownTimeout = options.Worker.ShutdownTimeout + TimeSpan.FromSeconds(5));

        builder.Services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = options.Limits.MaxRequestBytes;
            grpc.Interceptors.Add<CallInterceptor>();
        });
        builder.Services.AddGrpcReflection();
        // Health is checked when asked, not from a cache published every few seconds.
        builder.Services.AddGrpcHealthChecks(o => o.UseHealthChecksCache = false).AddCheck<StoreHealthCheck>("store");
        // After every gRPC registration (each may add Grpc.AspNetCore's binder again): the binder is replaced by one
        // whose request parsing answers InvalidArgument instead of Unknown.
        var binders = builder.Services.Where(d => d.ServiceType == typeof(IServiceMethodProvider<>) && d.ImplementationType?.Name == "BinderServiceMethodProvider`1").ToList();
        if (binders.Count == 0)
        {
            throw new InvalidOperationException("Grpc.AspNetCore's BinderServiceMethodProvider was not registered: RequestParsingMethodProvider would bind every method twice.");
        }

        foreach (var binder in binders)
        {
            builder.Services.Remove(binder);
        }

        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton(typeof(IServiceMethodProvider<>), typeof(RequestParsingMethodProvider<>)));
        builder.Services.AddSingleton<SystemdNotifier>();
        builder.Services.AddSingleton<RunWatcher>();

        var app = builder.Build();
        app.MapGrpcService<SandboxesService>();
        app.MapGrpcService<SidecarClientService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();

        var notifier = app.Services.GetRequiredService<SystemdNotifier>();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            unixSocket.OnListening();
            notifier.Notify("READY=1");
        });
        app.Lifetime.ApplicationStopping.Register(() => notifier.Notify("STOPPING=1"));
        app.Lifetime.ApplicationStopped.Register(unixSocket.OnStopped);
        return app;
    }

    private static void ConfigureLogging(WebApplicationBuilder builder, LoggingSection logging)
    {
        builder.Services.AddSerilog(lc =>
        {
            lc.MinimumLevel.Is(logging.MinimumLevel)
                .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
                .MinimumLevel.Override("Grpc", LogEventLevel.Warning)
                .Enrich.FromLogContext()
                .WriteTo.Console(formatProvider: System.Globalization.CultureInfo.InvariantCulture);
            if (!string.IsNullOrEmpty(logging.File))
            {
                lc.WriteTo.File(
                    new CompactJsonFormatter(),
                    logging.File,
                    rollingInterval: RollingInterval.Day,
                    rollOnFileSizeLimit: true,
                    fileSizeLimitBytes: 64L * 1024 * 1024,
                    retainedFileCountLimit: logging.RetainedFiles);
            }

            // Each host writes through its own logger: with the static Log.Logger, two hosts in one process (the tests)
            // wrote through whichever set it last, and the first to stop closed it for both.
        }, preserveStaticLogger: true);
    }
}
