using KataWorkflows.Engine;
using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Worker;
using KataWorkflows.Storage.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using DurableTaskRegistry = Microsoft.DurableTask.DurableTaskRegistry;

namespace KataWorkflows.Bench.Harness;

/// <summary>
/// A fresh store, an in-process worker and a client, wired as the engine's smoke test does. Disposing stops the
/// worker, closes the store and deletes a temporary database.
/// </summary>
internal sealed class EngineHost : IAsyncDisposable
{
    private readonly OrchestrationStore _store;
    private readonly StoreDurableTaskWorker _worker;
    private readonly ServiceProvider _services;
    private readonly string? _temporaryDatabase;
    private readonly CountingBackend _backend;

    private EngineHost(OrchestrationStore store, CountingBackend backend, StoreDurableTaskWorker worker, ServiceProvider services, string? temporaryDatabase)
    {
        _store = store;
        _backend = backend;
        _worker = worker;
        _services = services;
        _temporaryDatabase = temporaryDatabase;
        Client = new StoreDurableTaskClient(store);
    }

    /// <summary>The client the benchmark's loops use.</summary>
    public StoreDurableTaskClient Client { get; }

    /// <summary>Store batches committed so far (one per checkpoint, start or other change).</summary>
    public long Commits => _backend.Commits;

    /// <summary>Where the data lives, for the progress log.</summary>
    public string Description => _store.Description;

    /// <summary>
    /// Opens a fresh store and starts a worker that runs at least <paramref name="concurrency"/> orchestration
    /// episodes, activities and entity batches at once, so the worker is never what limits <paramref name="concurrency"/>
    /// clients. The worker resolves activities from <paramref name="services"/> (none when null); the host disposes them.
    /// </summary>
    public static async Task<EngineHost> StartAsync(
        BenchStoreOptions options, DurableTaskRegistry registry, int concurrency, CancellationToken cancellationToken, ServiceProvider? services = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        string? temporary = null;
        IStoreBackend backend;
        if (options.Kind == StoreKind.Memory)
        {
            backend = new InMemoryStoreBackend();
        }
        else
        {
            var path = options.DatabasePath;
            if (path is null)
            {
                temporary = path = Path.Combine(Path.GetTempPath(), $"kata-bench-{Guid.NewGuid():N}.db");
            }

            backend = new SqliteStoreBackend(new SqliteStoreOptions { Path = path, Synchronous = options.Synchronous }, logger: null);
        }

        var counting = new CountingBackend(backend);
        var store = new OrchestrationStore(counting);
        var defaults = new StoreWorkerOptions();
        var workerOptions = new StoreWorkerOptions
        {
            MaxConcurrentOrchestrations = Math.Max(concurrency, defaults.MaxConcurrentOrchestrations),
            MaxConcurrentActivities = Math.Max(concurrency, defaults.MaxConcurrentActivities),
            MaxConcurrentEntities = Math.Max(concurrency, defaults.MaxConcurrentEntities),
            WorkerId = $"bench:{Environment.ProcessId}",
        };
        services ??= new ServiceCollection().BuildServiceProvider();
        var worker = StoreDurableTaskWorker.Create(registry, workerOptions, store, services, NullLoggerFactory.Instance);
        var host = new EngineHost(store, counting, worker, services, temporary);
        try
        {
            await store.StartAsync(cancellationToken);
            await worker.StartAsync(cancellationToken);
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }

        return host;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _worker.StopAsync(stopping.Token);
        }
        finally
        {
            _worker.Dispose();
            await _store.DisposeAsync();
            await _services.DisposeAsync();
            DeleteTemporaryDatabase();
        }
    }

    private void DeleteTemporaryDatabase()
    {
        if (_temporaryDatabase is null)
        {
            return;
        }

        // The database, its -wal and -shm files and the lock file all start with the database's (unique) name.
        var directory = Path.GetDirectoryName(_temporaryDatabase)!;
        foreach (var file in Directory.EnumerateFiles(directory, Path.GetFileName(_temporaryDatabase) + "*"))
        {
            try
            {
                File.Delete(file);
            }
            catch (IOException ex)
            {
                Console.Error.WriteLine($"warning: could not delete {file}: {ex.Message}");
            }
        }
    }
}
