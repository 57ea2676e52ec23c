using System.Diagnostics;
using System.Reflection;
using KataWorkflows.Engine.Client;
using KataWorkflows.Host;
using Microsoft.AspNetCore.Builder;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;

namespace KataWorkflows.Bench.Harness;

/// <summary>
/// The real host (src/Host: the engine, its store, and the sidecar service on a Unix socket) in this process, and the
/// official .NET gRPC worker in another (bench/Worker) serving the benchmark's orchestration and activity over that
/// socket. The host's own worker registers only the sandbox tasks, so the benchmark's work goes to the remote worker.
/// Disposing stops the worker process, then the host, and deletes the temporary directory.
/// </summary>
internal sealed class RemoteWorkerHost : IAsyncDisposable
{
    /// <summary>How long the worker process may take to start its host.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly WebApplication _app;
    private readonly Process _worker;
    private readonly string _directory;
    private readonly Task _workerStderr;

    private RemoteWorkerHost(WebApplication app, Process worker, string directory, Task workerStderr)
    {
        _app = app;
        _worker = worker;
        _directory = directory;
        _workerStderr = workerStderr;
        Client = (StoreDurableTaskClient)app.Services.GetRequiredService<DurableTaskClient>();
    }

    /// <summary>The host's in-process client, which the benchmark's loops use.</summary>
    public StoreDurableTaskClient Client { get; }

    /// <summary>Where the data lives, for the progress log.</summary>
    public string Description { get; private init; } = string.Empty;

    /// <summary>CPU time of the worker process so far.</summary>
    public TimeSpan WorkerCpu
    {
        get
        {
            _worker.Refresh();
            return _worker.TotalProcessorTime;
        }
    }

    /// <summary>The worker process ended (it should not, before disposal): its exit code, for the failure message.</summary>
    public int? WorkerExitCode => _worker.HasExited ? _worker.ExitCode : null;

    /// <summary>
    /// Starts the host with <paramref name="store"/>'s store, then the worker process with at least
    /// <paramref name="concurrency"/> orchestrations and activities at once, and waits until the worker's host runs.
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static async Task<RemoteWorkerHost> StartAsync(BenchStoreOptions store, int concurrency, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var workerDll = WorkerAssemblyPath();
        var directory = Directory.CreateTempSubdirectory("kwf-bench-remote-").FullName;
        var socket = Path.Combine(directory, "kwf.sock");
        WebApplication? app = null;
        try
        {
            List<string> args =
            [
                $"--KataWorkflows:StateDirectory={directory}/state",
                $"--KataWorkflows:RunRoot={directory}/run",
                $"--KataWorkflows:Listen:UnixSocket={socket}",
                $"--KataWorkflows:Store:Kind={store.StoreName}",
                // The JSON line is the only thing on stdout: the host's console log keeps quiet.
                "--KataWorkflows:Logging:MinimumLevel=Fatal",
            ];
            if (store.Kind == StoreKind.Sqlite)
            {
                args.Add($"--KataWorkflows:Store:Sqlite:Synchronous={store.SynchronousName}");
                args.Add($"--KataWorkflows:Store:Sqlite:Path={store.DatabasePath ?? Path.Combine(directory, "state", "store.db")}");
            }

            app = KataWorkflowsHost.Build([.. args]);
            await app.StartAsync(cancellationToken);

            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { workerDll, "--socket", socket, "--concurrency", concurrency.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            {
                start.ArgumentList.Add(arg);
            }

            var worker = Process.Start(start) ?? throw new BenchmarkFailedException($"could not start the worker process ({workerDll})");
            // The worker's warnings and errors go to this process's stderr, tagged.
            var stderr = Task.Run(async () =>
            {
                while (await worker.StandardError.ReadLineAsync(CancellationToken.None) is { } line)
                {
                    await Console.Error.WriteLineAsync($"worker: {line}");
                }
            }, CancellationToken.None);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(StartTimeout);
            string? first;
            try
            {
                first = await worker.StandardOutput.ReadLineAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                first = null;
            }

            var host = new RemoteWorkerHost(app, worker, directory, stderr)
            {
                Description = $"{store.StoreName} in the real host, worker process {worker.Id} (official Microsoft.DurableTask.Worker.Grpc) over {socket}",
            };
            app = null;
            if (first is null || !first.StartsWith("started ", StringComparison.Ordinal))
            {
                await host.DisposeAsync();
                throw new BenchmarkFailedException(
                    $"the worker process did not start within {StartTimeout.TotalSeconds:0} s (its first line: '{first}', exit code {host.WorkerExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none: still running"})");
            }

            return host;
        }
        catch
        {
            // Until the RemoteWorkerHost owns them (app is null then, and its DisposeAsync cleaned up), the host and
            // the directory are this method's to clean up: the directory too when the host could not even be built.
            if (app is not null)
            {
                await app.StopAsync(CancellationToken.None);
                await app.DisposeAsync();
            }

            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }

            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_worker.HasExited)
            {
                // Closing its standard input tells the worker to stop; a worker that does not is killed.
                _worker.StandardInput.Close();
                using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                try
                {
                    await _worker.WaitForExitAsync(exit.Token);
                }
                catch (OperationCanceledException)
                {
                    _worker.Kill(entireProcessTree: true);
                    await _worker.WaitForExitAsync(CancellationToken.None);
                }
            }

            await _workerStderr;
        }
        finally
        {
            _worker.Dispose();
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
            Directory.Delete(_directory, recursive: true);
        }
    }

    // Built next to bench (bench/Worker/bin/<configuration>/<tfm>/); the path is written into this assembly at build time.
    private static string WorkerAssemblyPath()
    {
        var path = typeof(RemoteWorkerHost).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "BenchWorkerAssembly")?.Value;
        if (path is null || !File.Exists(path))
        {
            throw new BenchmarkFailedException(
                $"the remote worker is not built ('{path}'): build bench/Worker/Bench.Worker.csproj in the same configuration (bench's build does, through its project reference)");
        }

        return path;
    }
}
