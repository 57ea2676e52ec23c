using KataWorkflows.Engine;
using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Worker;
using KataWorkflows.Storage.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using DurableTaskRegistry = Microsoft.DurableTask.DurableTaskRegistry;

namespace KataWorkflows.Telemetry.Tests.Harness;

/// <summary>
/// A store over a SQLite file in a temp directory, a worker and a client. <see cref="RestartAsync"/> stops the worker,
/// disposes the store and opens a new store and worker over the same file: a process restart, as far as the engine knows.
/// </summary>
public sealed class SqliteEngineHost : IAsyncDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kata-telemetry-tests", Guid.NewGuid().ToString("N"));
    private readonly ServiceProvider _services = new ServiceCollection().BuildServiceProvider();
    private readonly CancellationTokenSource _timeout;
    private readonly Action<DurableTaskRegistry> _configure;
    private readonly Action<StoreWorkerOptions>? _configureWorker;
    private StoreDurableTaskWorker? _worker;

    private SqliteEngineHost(Action<DurableTaskRegistry> configure, Action<StoreWorkerOptions>? configureWorker)
    {
        _configure = configure;
        _configureWorker = configureWorker;
        _timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        _timeout.CancelAfter(TimeSpan.FromSeconds(60));
        Directory.CreateDirectory(_directory);
        Store = OpenStore();
        Client = new StoreDurableTaskClient(Store);
    }

    /// <summary>The current store.</summary>
    public OrchestrationStore Store { get; private set; }

    /// <summary>A client over the current store.</summary>
    public StoreDurableTaskClient Client { get; private set; }

    /// <summary>Cancelled when the test's time budget is spent.</summary>
    public CancellationToken Token => _timeout.Token;

    /// <summary>Opens a store over a new file; starts a worker unless <paramref name="startWorker"/> is false.</summary>
    public static async Task<SqliteEngineHost> StartAsync(
        Action<DurableTaskRegistry> configure, bool startWorker = true, Action<StoreWorkerOptions>? configureWorker = null)
    {
        var host = new SqliteEngineHost(configure, configureWorker);
        await host.Store.StartAsync(host.Token);
        if (startWorker)
        {
            await host.StartWorkerAsync();
        }

        return host;
    }

    /// <summary>Starts a worker over the current store.</summary>
    public async Task StartWorkerAsync()
    {
        var registry = new DurableTaskRegistry();
        _configure(registry);
        var options = new StoreWorkerOptions { ErrorBackoff = TimeSpan.FromMilliseconds(100), IdlePollInterval = TimeSpan.FromMilliseconds(200) };
        _configureWorker?.Invoke(options);
        _worker = StoreDurableTaskWorker.Create(registry, options, Store, _services, NullLoggerFactory.Instance);
        await _worker.StartAsync(Token);
    }

    /// <summary>Stops the worker and the store, and opens new ones over the same database file.</summary>
    public async Task RestartAsync()
    {
        await StopWorkerAsync();
        await Store.DisposeAsync();
        Store = OpenStore();
        Client = new StoreDurableTaskClient(Store);
        await Store.StartAsync(Token);
        await StartWorkerAsync();
    }

    /// <summary>Waits until the instance is terminal.</summary>
    public Task<OrchestrationMetadata> WaitForCompletionAsync(string instanceId) => Client.WaitForInstanceCompletionRecordAsync(instanceId, getInputsAndOutputs: true, Token);

    /// <summary>Waits until the instance's current history satisfies <paramref name="condition"/>.</summary>
    public async Task WaitForHistoryAsync(string instanceId, Func<IReadOnlyList<Microsoft.DurableTask.Protobuf.HistoryEvent>, bool> condition)
    {
        ArgumentNullException.ThrowIfNull(condition);
        while (true)
        {
            var changed = Store.WaitForInstanceChangeAsync(instanceId, Token);
            if (condition(await Store.GetHistoryAsync(instanceId, executionId: null, Token)))
            {
                return;
            }

            await changed;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopWorkerAsync();
        await Store.DisposeAsync();
        await _services.DisposeAsync();
        _timeout.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private OrchestrationStore OpenStore() =>
        new(new SqliteStoreBackend(new SqliteStoreOptions { Path = Path.Combine(_directory, "engine.db"), Synchronous = SqliteSynchronousMode.Normal }));

    private async Task StopWorkerAsync()
    {
        if (_worker is { } worker)
        {
            _worker = null;
            await worker.StopAsync(CancellationToken.None);
            worker.Dispose();
        }
    }
}
