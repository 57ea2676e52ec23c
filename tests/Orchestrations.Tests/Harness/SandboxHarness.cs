using KataWorkflows.Activities;
using KataWorkflows.Activities.Agents.Noop;
using KataWorkflows.Activities.Faults;
using KataWorkflows.Activities.Hypervisors.Mock;
using KataWorkflows.Activities.Networks.None;
using KataWorkflows.Activities.Store;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Worker;
using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;
using KataWorkflows.Storage.Sqlite;
using Microsoft.DurableTask.Protobuf;
using EntityMetadata = KataWorkflows.Engine.EntityMetadata;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using DurableTaskRegistry = Microsoft.DurableTask.DurableTaskRegistry;

namespace KataWorkflows.Orchestrations.Tests.Harness;

/// <summary>Settings of a <see cref="SandboxHarness"/>.</summary>
public sealed class SandboxHarnessOptions
{
    /// <summary>Fault rules in <see cref="FaultInjectionOptions.Spec"/> form.</summary>
    public string? Faults { get; set; }

    /// <summary>Fault rules as objects (tried before <see cref="Faults"/>).</summary>
    public IList<FaultRule> FaultRules { get; } = [];

    /// <summary>A SQLite store on a temporary file instead of the in-memory store.</summary>
    public bool Sqlite { get; set; }

    /// <summary>SQLite's synchronous mode (normal: a process crash loses nothing, which is what these tests need).</summary>
    public SqliteSynchronousMode Synchronous { get; set; } = SqliteSynchronousMode.Normal;

    /// <summary>The budget of the whole test: every wait gives up when it is spent.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Adjusts the worker's options.</summary>
    public Action<StoreWorkerOptions>? ConfigureWorker { get; set; }

    /// <summary>Adds or replaces services after the harness's own (e.g. a driver in place of the recording one).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; set; }
}

/// <summary>
/// The sandbox stack in one process: the drivers (mock hypervisor, noop agent, none network, file store under a
/// temporary run root) behind recording decorators, a registry with every sandbox orchestration and activity, a store
/// (in memory, or SQLite on a temporary file), a worker, the engine's client and a <see cref="SandboxClient"/>.
/// </summary>
public sealed class SandboxHarness : IAsyncDisposable
{
    private readonly SandboxHarnessOptions _options;
    private readonly CancellationTokenSource _timeout;
    private readonly string _directory;
    private readonly InMemoryStoreBackend? _memory;
    private readonly System.Threading.Channels.Channel<FaultStrike> _strikes = System.Threading.Channels.Channel.CreateUnbounded<FaultStrike>();
    private StoreDurableTaskWorker? _worker;

    private SandboxHarness(SandboxHarnessOptions options)
    {
        _options = options;
        _timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        _timeout.CancelAfter(options.Timeout);
        _directory = Directory.CreateTempSubdirectory("kwf-orch-").FullName;
        RunRoot = Path.Combine(_directory, "run");
        var services = new ServiceCollection().AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddSandboxDrivers(
            store => store.RunRoot = RunRoot,
            faults =>
            {
                faults.Spec = options.Faults;
                foreach (var rule in options.FaultRules)
                {
                    faults.Rules.Add(rule);
                }
            });
        services.AddSingleton<DriverCalls>();
        services.AddHypervisorDriver<RecordingHypervisor>(MockHypervisor.TypeName);
        services.AddAgentDriver<RecordingAgent>(NoopAgent.TypeName);
        services.AddSingleton<RecordingSandboxStore>();
        services.AddSingleton<ISandboxStore>(sp => sp.GetRequiredService<RecordingSandboxStore>());
        options.ConfigureServices?.Invoke(services);
        Services = services.BuildServiceProvider(validateScopes: true);
        Faults.Struck += (_, strike) => _strikes.Writer.TryWrite(strike);
        Registry = new DurableTaskRegistry().AddSandboxOrchestrations().AddSandboxActivities();
        _memory = options.Sqlite ? null : new InMemoryStoreBackend();
        (Store, Log, Client, Sandboxes) = OpenStore();
    }

    /// <summary>The drivers and the file store.</summary>
    public ServiceProvider Services { get; }

    /// <summary>The registry the worker runs.</summary>
    public DurableTaskRegistry Registry { get; }

    /// <summary>The run root of the file store.</summary>
    public string RunRoot { get; }

    /// <summary>The SQLite database file (when the harness uses SQLite).</summary>
    public string DatabasePath => Path.Combine(_directory, "store.db");

    /// <summary>The current store.</summary>
    public OrchestrationStore Store { get; private set; }

    /// <summary>The current store as the worker sees it, logging every activity it takes and finishes.</summary>
    public ActivityLogStore Log { get; private set; }

    /// <summary>The engine's client over the current store.</summary>
    public StoreDurableTaskClient Client { get; private set; }

    /// <summary>The sandbox client over <see cref="Client"/>.</summary>
    public SandboxClient Sandboxes { get; private set; }

    /// <summary>The VMs the mock hypervisor runs.</summary>
    public MockHypervisor Hypervisor => Services.GetRequiredService<MockHypervisor>();

    /// <summary>The mock hypervisor's recording wrapper, which the activities call.</summary>
    public RecordingHypervisor Recorder => Services.GetRequiredService<RecordingHypervisor>();

    /// <summary>The fault injector the activities pass through (it outlives restarts, as the harness's drivers do).</summary>
    public FaultInjector Faults => Services.GetRequiredService<FaultInjector>();

    /// <summary>The noop agent's book of guest sandboxes and containers.</summary>
    public NoopAgent Agent => Services.GetRequiredService<NoopAgent>();

    /// <summary>The interfaces the none network recorded.</summary>
    public NoneNetwork Network => Services.GetRequiredService<NoneNetwork>();

    /// <summary>The run-directory store.</summary>
    public SandboxFileStore Files => Services.GetRequiredService<SandboxFileStore>();

    /// <summary>Every driver call the activities made.</summary>
    public DriverCalls Calls => Services.GetRequiredService<DriverCalls>();

    /// <summary>Cancelled when the test's time budget is spent (or the test run is cancelled).</summary>
    public CancellationToken Token => _timeout.Token;

    /// <summary>Opens the stack and starts the worker.</summary>
    public static async Task<SandboxHarness> StartAsync(Action<SandboxHarnessOptions>? configure = null)
    {
        var options = new SandboxHarnessOptions();
        configure?.Invoke(options);
        var harness = new SandboxHarness(options);
        try
        {
            await harness.Store.StartAsync(harness.Token);
            await harness.StartWorkerAsync();
            return harness;
        }
        catch
        {
            await harness.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// A host restart: stops the worker (running activities are cancelled and run again later), closes the store and
    /// opens a new one over the same data. The drivers stay: VMs and the run directory outlive the host process.
    /// <paramref name="whileDown"/> runs after the old host has stopped and before the new one starts: what it checks
    /// cannot race with the next host's work.
    /// </summary>
    public async Task RestartAsync(Action? whileDown = null)
    {
        await StopWorkerAsync();
        await Store.DisposeAsync();
        whileDown?.Invoke();
        (Store, Log, Client, Sandboxes) = OpenStore();
        await Store.StartAsync(Token);
        await StartWorkerAsync();
    }

    /// <summary>
    /// Waits until a fault rule strikes at a step and point (strikes since the harness started count, each once). Wait
    /// for this, not for the step to be taken, before acting on a fault: a step taken has not yet reached its fault,
    /// and a host stopped in between leaves the fault to strike in the next host.
    /// </summary>
    public async Task<FaultStrike> WaitForStrikeAsync(string step, FaultPoint point)
    {
        while (true)
        {
            var strike = await _strikes.Reader.ReadAsync(Token);
            if (strike.Point == point && string.Equals(strike.Step, step, StringComparison.OrdinalIgnoreCase))
            {
                return strike;
            }
        }
    }

    /// <summary>Runs a call and returns its result.</summary>
    public Task<SandboxOperationResult> CallAsync(string operation, SandboxRequest request, string? requestId = null) =>
        Sandboxes.RunAsync(operation, request, requestId, Token);

    /// <summary>Runs a call that must fail and returns how it failed.</summary>
    public async Task<SandboxCallException> CallFailsAsync(string operation, SandboxRequest request, string? requestId = null)
    {
        try
        {
            var result = await Sandboxes.RunAsync(operation, request, requestId, Token);
            throw new Xunit.Sdk.XunitException($"{operation} of {request.SandboxId} was expected to fail but returned {result}");
        }
        catch (SandboxCallException ex)
        {
            return ex;
        }
    }

    /// <summary>
    /// Brings a new sandbox with one container into the given pair of states through the API, the way a client would,
    /// and checks that it got there. The reachable pairs: a ready sandbox has ready or stopped containers, a running one
    /// any, a paused one ready, paused or stopped ones, a stopped one only stopped ones.
    /// </summary>
    public async Task<SandboxRecord> ArrangeAsync(string sandboxId, string containerId, SandboxState sandbox, SandboxState container)
    {
        switch (sandbox, container)
        {
            case (SandboxState.Ready, SandboxState.Ready or SandboxState.Stopped):
                await CallAsync(Ops.CreateSandbox, TestSandboxes.Create(sandboxId, containerId));
                break;
            case (SandboxState.Running, _):
            case (SandboxState.Paused, SandboxState.Ready or SandboxState.Paused or SandboxState.Stopped):
                await CallAsync(Ops.RunSandbox, TestSandboxes.Create(sandboxId));
                await CallAsync(Ops.CreateContainer, TestSandboxes.NewContainer(sandboxId, containerId));
                if (container != SandboxState.Ready)
                {
                    await CallAsync(Ops.StartContainer, TestSandboxes.Container(sandboxId, containerId));
                }

                if (sandbox == SandboxState.Running && container == SandboxState.Paused)
                {
                    await CallAsync(Ops.PauseContainer, TestSandboxes.Container(sandboxId, containerId));
                }

                break;
            case (SandboxState.Stopped, SandboxState.Stopped):
                await CallAsync(Ops.RunSandbox, TestSandboxes.Create(sandboxId, containerId));
                await CallAsync(Ops.StopSandbox, TestSandboxes.Sandbox(sandboxId));
                break;
            default:
                throw new ArgumentException($"a {sandbox} sandbox cannot have a {container} container");
        }

        if (container == SandboxState.Stopped && sandbox != SandboxState.Stopped)
        {
            await CallAsync(Ops.StopContainer, TestSandboxes.Container(sandboxId, containerId));
        }

        if (sandbox == SandboxState.Paused)
        {
            await CallAsync(Ops.PauseSandbox, TestSandboxes.Sandbox(sandboxId));
        }

        var record = await RequireRecordAsync(sandboxId);
        Assert.Equal((sandbox, container), (record.State, record.FindContainer(containerId)!.State));
        return record;
    }

    /// <summary>The committed record of a sandbox; null when there is none.</summary>
    public Task<SandboxRecord?> RecordAsync(string sandboxId) => Sandboxes.GetRecordAsync(sandboxId, Token);

    /// <summary>The committed record of a sandbox, which must exist.</summary>
    public async Task<SandboxRecord> RequireRecordAsync(string sandboxId) =>
        await RecordAsync(sandboxId) ?? throw new Xunit.Sdk.XunitException($"sandbox {sandboxId} has no record");

    /// <summary>The sandbox's entity (state, lock), or null.</summary>
    public Task<EntityMetadata?> EntityAsync(string sandboxId) => Store.GetEntityAsync(SandboxEntity.IdFor(sandboxId), includeState: true, Token);

    /// <summary>
    /// Waits until the sandbox's entity holds no lock and returns it (null when it does not exist). A call's run completes
    /// before its entity processes the unlock it sent, so a test that checks the lock right after a call waits for it.
    /// </summary>
    public async Task<EntityMetadata?> UnlockedEntityAsync(string sandboxId)
    {
        EntityMetadata? entity = null;
        try
        {
            while (true)
            {
                var committed = Log.NextEntityCommit();
                entity = await EntityAsync(sandboxId);
                if (entity?.LockedBy is null)
                {
                    return entity;
                }

                await committed.WaitAsync(Token);
            }
        }
        catch (OperationCanceledException) when (Token.IsCancellationRequested)
        {
            throw new TimeoutException($"sandbox {sandboxId} was still locked by {entity?.LockedBy} (backlog {entity?.BacklogQueueSize}) when the test's time ran out");
        }
    }

    /// <summary>The history of a run.</summary>
    public Task<IReadOnlyList<HistoryEvent>> HistoryAsync(string instanceId) => Client.GetHistoryAsync(instanceId, cancellation: Token);

    /// <summary>Every run in the store.</summary>
    public async Task<IReadOnlyList<OrchestrationMetadata>> InstancesAsync()
    {
        var all = new List<OrchestrationMetadata>();
        var query = new OrchestrationQuery { IncludePayloads = true };
        do
        {
            var page = await Client.QueryInstanceRecordsAsync(query, Token);
            all.AddRange(page.Instances);
            query = query with { ContinuationToken = page.ContinuationToken };
        }
        while (query.ContinuationToken is not null);
        return all;
    }

    /// <summary>
    /// Asserts that a sandbox left nothing behind: no record and no lock on its entity, no run directory, no VM, no guest
    /// side and no network interfaces.
    /// </summary>
    public async Task AssertNothingLeftAsync(string sandboxId)
    {
        var entity = await UnlockedEntityAsync(sandboxId);
        Assert.Null(entity?.SerializedState);
        Assert.False(Files.Exists(sandboxId), $"the run directory of {sandboxId} is still there");
        Assert.DoesNotContain(sandboxId, Hypervisor.RunningVms);
        Assert.DoesNotContain(sandboxId, Agent.Sandboxes);
        Assert.Empty(Agent.ContainersOf(sandboxId));
        Assert.Empty(Network.InterfacesOf(sandboxId));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopWorkerAsync();
        await Store.DisposeAsync();
        await Services.DisposeAsync();
        _timeout.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is not worth failing a test over.
        }
    }

    private (OrchestrationStore, ActivityLogStore, StoreDurableTaskClient, SandboxClient) OpenStore()
    {
        var store = _memory is not null
            ? new OrchestrationStore(_memory)
            : SqliteOrchestrationStore.Create(new SqliteStoreOptions { Path = DatabasePath, Synchronous = _options.Synchronous });
        var client = new StoreDurableTaskClient(store);
        return (store, new ActivityLogStore(store), client, new SandboxClient(client));
    }

    private async Task StartWorkerAsync()
    {
        var options = new StoreWorkerOptions { ErrorBackoff = TimeSpan.FromMilliseconds(100), ShutdownTimeout = TimeSpan.FromSeconds(5) };
        _options.ConfigureWorker?.Invoke(options);
        _worker = StoreDurableTaskWorker.Create(Registry, options, Log, Services, Services.GetRequiredService<ILoggerFactory>());
        await _worker.StartAsync(Token);
    }

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
