using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Worker;
using Microsoft.DurableTask.Protobuf;
using Microsoft.DurableTask.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using DurableTaskRegistry = Microsoft.DurableTask.DurableTaskRegistry;
using StartOrchestrationOptions = Microsoft.DurableTask.StartOrchestrationOptions;

namespace KataWorkflows.Engine.Tests.Harness;

/// <summary>Settings of an <see cref="EngineHarness"/>.</summary>
public sealed class HarnessOptions
{
    /// <summary>Start the worker with the store; false keeps every instance Pending.</summary>
    public bool StartWorker { get; set; } = true;

    /// <summary>Adjusts the worker's options (concurrency, backoff).</summary>
    public Action<StoreWorkerOptions>? ConfigureWorker { get; set; }

    /// <summary>The clock of the store, the worker and the client; the system clock when null.</summary>
    public TimeProvider? EngineTime { get; set; }

    /// <summary>The client's clock (it stamps CreatedAt); <see cref="EngineTime"/> when null.</summary>
    public TimeProvider? ClientTime { get; set; }

    /// <summary>The budget of the whole test: every wait gives up when it is spent.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// A store, the SDK's worker over it (built as production builds it: <c>AddDurableTaskWorker(b =>
/// b.AddTasks(...).UseStore())</c>, so tasks come from the SDK's own factory) and a client over one backend: an
/// <see cref="InMemoryStoreBackend"/> here, a SQLite database file (synchronous FULL) when compiled with
/// <c>SQLITE_STORE</c> (tests/Engine.Sqlite.Tests runs this suite so). <see cref="RestartAsync"/> stops the
/// worker, disposes the store and opens a new store over the same data, which is what a process restart looks
/// like to the engine; it may bring a different registry ("new code").
/// </summary>
public sealed class EngineHarness : IAsyncDisposable
{
    private readonly HarnessOptions _options;
    private readonly CancellationTokenSource _timeout;
    private readonly ILoggerFactory _loggerFactory;
    private Action<DurableTaskRegistry> _tasks = _ => { };
    private ServiceProvider? _services;
    private StoreDurableTaskWorker? _worker;

    private EngineHarness(HarnessOptions options)
    {
        _options = options;
        _timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        _timeout.CancelAfter(options.Timeout);
        _loggerFactory = LoggerFactory.Create(b => b.AddProvider(Logs).SetMinimumLevel(LogLevel.Trace));
        Store = new OrchestrationStore(OpenBackend(), options.EngineTime);
        Observed = new ObservedStore(Store);
        Client = new StoreDurableTaskClient(Store, timeProvider: options.ClientTime ?? options.EngineTime);
    }

#if SQLITE_STORE
    // The durable data: a database file that outlives every store (and backend) opened over it.
    private readonly string _directory = Directory.CreateTempSubdirectory("kwf-engine-tests-").FullName;

    private CountingBackend OpenBackend() => new(
        new KataWorkflows.Storage.Sqlite.SqliteStoreBackend(
            new KataWorkflows.Storage.Sqlite.SqliteStoreOptions
            {
                Path = Path.Combine(_directory, "engine.db"),
                Synchronous = KataWorkflows.Storage.Sqlite.SqliteSynchronousMode.Full,
            },
            logger: null),
        this);
#else
    // The durable data; it outlives every store opened over it.
    private readonly InMemoryStoreBackend _backend = new();

    private CountingBackend OpenBackend() => new(_backend, this);
#endif

    /// <summary>Batches committed to the backend so far, over every store the harness opened.</summary>
    public int CommitCount => Volatile.Read(ref _commits);

    private int _commits;

    /// <summary>The SDK's form of a store entity id, for the client's entity calls.</summary>
    public static Microsoft.DurableTask.Entities.EntityInstanceId Sdk(EntityInstanceId id) => new(id.Name, id.Key);

    /// <summary>The current store.</summary>
    public OrchestrationStore Store { get; private set; }

    /// <summary>The current store as the worker sees it, with hooks to await what the worker did.</summary>
    public ObservedStore Observed { get; private set; }

    /// <summary>A client over the current store.</summary>
    public StoreDurableTaskClient Client { get; private set; }


    /// <summary>Everything logged by the engine and by orchestrations.</summary>
    public CapturingLoggerProvider Logs { get; } = new();

    /// <summary>Cancelled when the test's time budget is spent (or the test run is cancelled).</summary>
    public CancellationToken Token => _timeout.Token;

    /// <summary>Orchestrations whose code the running worker keeps in memory between episodes (extended sessions).</summary>
    public int Sessions => _worker?.Sessions ?? throw new InvalidOperationException("The worker is not running.");

    /// <summary>Opens a store over a new backend and starts a worker running what <paramref name="configure"/> registers.</summary>
    public static async Task<EngineHarness> StartAsync(Action<DurableTaskRegistry> configure, Action<HarnessOptions>? options = null)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var settings = new HarnessOptions();
        options?.Invoke(settings);
        var harness = new EngineHarness(settings);
        try
        {
            await harness.OpenAsync(configure);
            return harness;
        }
        catch
        {
            await harness.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Stops the worker, disposes the store, and opens a new store and worker over the same data. With
    /// <paramref name="configure"/> the new worker runs different code under the same names;
    /// <paramref name="whileStopped"/> runs against the data (a backend over it) while no store owns it.
    /// </summary>
    public async Task RestartAsync(Action<DurableTaskRegistry> configure, Func<IStoreBackend, Task>? whileStopped = null)
    {
        await StopAsync();
        await Store.DisposeAsync();
        if (whileStopped is not null)
        {
#if SQLITE_STORE
            var backend = OpenBackend();
            await using (backend)
            {
                await backend.OpenAsync(Token);
                await whileStopped(backend);
            }
#else
            await whileStopped(_backend);
#endif
        }

        Store = new OrchestrationStore(OpenBackend(), _options.EngineTime);
        Observed = new ObservedStore(Store);
        Client = new StoreDurableTaskClient(Store, timeProvider: _options.ClientTime ?? _options.EngineTime);
        await OpenAsync(configure);
    }

    /// <summary>Starts the worker when it is not running (for harnesses created with <see cref="HarnessOptions.StartWorker"/> false).</summary>
    public async Task StartWorkerAsync()
    {
        if (_worker is not null)
        {
            return;
        }

        var services = new ServiceCollection();
        services.AddSingleton(_loggerFactory);
        services.AddSingleton<IOrchestrationStore>(Observed);
        if (_options.EngineTime is { } time)
        {
            services.AddSingleton(time);
        }

        services.AddDurableTaskWorker(b => b.AddTasks(_tasks).UseStore(o =>
        {
            o.ErrorBackoff = TimeSpan.FromMilliseconds(100);
            _options.ConfigureWorker?.Invoke(o);
        }));
        _services = services.BuildServiceProvider();
        _worker = (StoreDurableTaskWorker)_services.GetServices<IHostedService>().Single(s => s is StoreDurableTaskWorker);
        await _worker.StartAsync(Token);
    }

    /// <summary>Stops the worker; the store stays open.</summary>
    public async Task StopAsync()
    {
        if (_worker is { } worker)
        {
            _worker = null;
            await worker.StopAsync(CancellationToken.None);
            await _services!.DisposeAsync();
            _services = null;
        }
    }

    private async Task OpenAsync(Action<DurableTaskRegistry> configure)
    {
        _tasks = configure;
        await Store.StartAsync(Token);
        if (_options.StartWorker)
        {
            await StartWorkerAsync();
        }
    }

    /// <summary>Schedules an instance.</summary>
    public Task<string> ScheduleAsync(string name, object? input = null, string? instanceId = null) =>
        Client.ScheduleNewOrchestrationInstanceAsync(name, input, new StartOrchestrationOptions { InstanceId = instanceId }, Token);

    /// <summary>Schedules an instance and waits until it is terminal; returns its metadata with payloads.</summary>
    public async Task<OrchestrationMetadata> RunAsync(string name, object? input = null, string? instanceId = null)
    {
        var id = await ScheduleAsync(name, input, instanceId);
        return await WaitForCompletionAsync(id);
    }

    /// <summary>Waits until the instance is terminal; returns its metadata with payloads.</summary>
    public Task<OrchestrationMetadata> WaitForCompletionAsync(string instanceId) =>
        WaitForInstanceAsync(instanceId, m => m.IsTerminal, "to finish");

    /// <summary>
    /// Waits until the instance exists and satisfies <paramref name="condition"/> (payloads included). Woken by
    /// the store at every committed change of the instance; never polls.
    /// </summary>
    public async Task<OrchestrationMetadata> WaitForInstanceAsync(string instanceId, Func<OrchestrationMetadata, bool> condition, string what)
    {
        ArgumentNullException.ThrowIfNull(condition);
        OrchestrationMetadata? last = null;
        try
        {
            while (true)
            {
                // Ask to be woken before reading, so a change in between is not missed.
                var changed = Store.WaitForInstanceChangeAsync(instanceId, Token);
                last = await Store.GetInstanceAsync(instanceId, includePayloads: true, Token);
                if (last is not null && condition(last))
                {
                    return last;
                }

                await changed;
            }
        }
        catch (OperationCanceledException) when (Token.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"Timed out waiting for instance '{instanceId}' {what}; last seen: {(last is null ? "no such instance" : $"{last.Status}, custom status {last.SerializedCustomStatus ?? "none"}, failure {last.FailureDetails}")}.{EngineErrors()}");
        }
    }

    /// <summary>Waits until the current execution's history satisfies <paramref name="condition"/>; returns that history.</summary>
    public async Task<IReadOnlyList<HistoryEvent>> WaitForHistoryAsync(string instanceId, Func<IReadOnlyList<HistoryEvent>, bool> condition, string what)
    {
        ArgumentNullException.ThrowIfNull(condition);
        IReadOnlyList<HistoryEvent> last = [];
        try
        {
            while (true)
            {
                var changed = Store.WaitForInstanceChangeAsync(instanceId, Token);
                last = await Store.GetHistoryAsync(instanceId, executionId: null, Token);
                if (condition(last))
                {
                    return last;
                }

                await changed;
            }
        }
        catch (OperationCanceledException) when (Token.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"Timed out waiting for the history of '{instanceId}' {what}; last seen: {string.Join(", ", last.Select(e => e.EventTypeCase))}.{EngineErrors()}");
        }
    }

    /// <summary>The last engine warnings and errors, to explain a timeout.</summary>
    private string EngineErrors()
    {
        var problems = Logs.Lines.Where(l => l.Level >= LogLevel.Warning).TakeLast(3).ToArray();
        return problems.Length == 0
            ? string.Empty
            : " Engine warnings: " + string.Join(" | ", problems.Select(l => $"{l.Message} {l.Exception?.GetType().Name}: {l.Exception?.Message}"));
    }

    /// <summary>The current execution's history.</summary>
    public Task<IReadOnlyList<HistoryEvent>> HistoryAsync(string instanceId, string? executionId = null) =>
        Client.GetHistoryAsync(instanceId, executionId, Token);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await Store.DisposeAsync();
        _loggerFactory.Dispose();
        _timeout.Dispose();
#if SQLITE_STORE
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is not worth failing a test over.
        }
#endif
    }

    /// <summary>Counts the batches the backend committed (a failed commit is not counted).</summary>
    private sealed class CountingBackend(IStoreBackend inner, EngineHarness harness) : DelegatingStoreBackend(inner)
    {
        public override async Task CommitAsync(StoreBatch batch, CancellationToken cancellationToken)
        {
            await base.CommitAsync(batch, cancellationToken);
            Interlocked.Increment(ref harness._commits);
        }
    }
}
