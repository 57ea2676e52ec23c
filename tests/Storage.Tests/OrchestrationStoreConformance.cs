using Google.Protobuf.WellKnownTypes;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Execution;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;
using Microsoft.Extensions.Time.Testing;

namespace KataWorkflows.Storage.Tests;

/// <summary>
/// The conformance suite every store passes. It drives <see cref="IOrchestrationStore"/> at the work-item level
/// (lock, complete, abandon, leases) without a worker, so it pins down what the store guarantees independent of
/// the executor; checkpoints are built by <see cref="ActionApplier"/> from orchestrator actions, as the worker
/// builds them. A store joins by deriving from this class and opening itself over a <see cref="StoreLocation"/>.
/// </summary>
public abstract partial class OrchestrationStoreConformance : IAsyncLifetime
{
    /// <summary>The fake clock's start: every case begins at this instant.</summary>
    protected static readonly DateTime Epoch = new(2030, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>The lease the cases lock work under unless they test leases.</summary>
    protected static readonly TimeSpan Lease = TimeSpan.FromMinutes(5);

    private readonly List<IOrchestrationStore> _open = [];
    private int _locations;

    /// <summary>The clock every store of the case runs on.</summary>
    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(Epoch));

    /// <summary>The fake clock's current time.</summary>
    protected DateTime Now => Time.GetUtcNow().UtcDateTime;

    /// <summary>The test's cancellation token.</summary>
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// Creates a store (not started) over the durable data at <paramref name="location"/>. Called again for the same
    /// location after the previous store was disposed, it must see what that store committed. Use <see cref="Time"/>.
    /// </summary>
    protected abstract Task<IOrchestrationStore> CreateStoreAsync(StoreLocation location);

    /// <summary>Reads what is durable at a location no store has open: the rows a restart would recover.</summary>
    protected abstract Task<RecoveredState> ReadDurableStateAsync(StoreLocation location);

    /// <summary>Removes what the case left behind (files, schemas), after every store was disposed.</summary>
    protected virtual ValueTask DeleteLocationsAsync() => ValueTask.CompletedTask;

    /// <summary>A store over a backend, committing through a <see cref="FaultInjectingStoreBackend"/> the case can control.</summary>
    protected IOrchestrationStore CreateStoreOver(IStoreBackend backend, StoreLocation location)
    {
        ArgumentNullException.ThrowIfNull(location);
        return new OrchestrationStore(new FaultInjectingStoreBackend(backend, location.Faults), Time);
    }

    /// <inheritdoc />
    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var store in _open)
        {
            await store.DisposeAsync();
        }

        _open.Clear();
        await DeleteLocationsAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>A fresh location and a started store over it.</summary>
    protected async Task<(IOrchestrationStore Store, StoreLocation Location)> NewStoreAsync()
    {
        var location = new StoreLocation($"store{Interlocked.Increment(ref _locations)}");
        return (await OpenAsync(location), location);
    }

    /// <summary>Creates and starts a store over a location.</summary>
    protected async Task<IOrchestrationStore> OpenAsync(StoreLocation location)
    {
        var store = await CreateStoreAsync(location);
        _open.Add(store);
        await store.StartAsync(Ct);
        return store;
    }

    /// <summary>Disposes a store (what it held only in memory is lost) and opens a new one over the same location.</summary>
    protected async Task<IOrchestrationStore> RestartAsync(IOrchestrationStore store, StoreLocation location)
    {
        await CloseAsync(store);
        return await OpenAsync(location);
    }

    /// <summary>Disposes a store.</summary>
    protected async Task CloseAsync(IOrchestrationStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _open.Remove(store);
        await store.DisposeAsync();
    }

    /// <summary>A create request built the way the client builds it.</summary>
    protected NewInstance Instance(
        string instanceId, string name = "Workflow", string? input = null, DateTime? createdAt = null, DateTime? startAt = null, bool replaceTerminal = false)
    {
        var created = createdAt ?? Now;
        var executionId = Guid.NewGuid().ToString("N");
        var started = new ExecutionStartedEvent
        {
            Name = name,
            Input = input,
            OrchestrationInstance = new OrchestrationInstance { InstanceId = instanceId, ExecutionId = executionId },
            ScheduledStartTimestamp = startAt is { } at ? Timestamp.FromDateTime(at) : null,
        };
        return new NewInstance
        {
            Metadata = new OrchestrationMetadata
            {
                InstanceId = instanceId,
                Name = name,
                ExecutionId = executionId,
                Status = OrchestrationRuntimeStatus.Pending,
                CreatedAt = created,
                LastUpdatedAt = created,
                ScheduledStartAt = startAt,
                SerializedInput = input,
            },
            ExecutionStarted = new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(created), ExecutionStarted = started },
            ReplaceTerminal = replaceTerminal,
        };
    }

    /// <summary>Creates an instance.</summary>
    protected async Task CreateAsync(IOrchestrationStore store, string instanceId, string name = "Workflow", string? input = null, DateTime? createdAt = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        await store.CreateInstanceAsync(Instance(instanceId, name, input, createdAt), Ct);
    }

    /// <summary>Creates an instance and runs its first episode (no actions): it is Running and idle.</summary>
    protected async Task CreateRunningAsync(IOrchestrationStore store, string instanceId, string name = "Workflow", DateTime? createdAt = null)
    {
        await CreateAsync(store, instanceId, name, createdAt: createdAt);
        var workItem = await LockAsync(store, instanceId);
        await RunEpisodeAsync(store, workItem);
    }

    /// <summary>Creates an instance and runs it to completion in one episode.</summary>
    protected async Task CreateCompletedAsync(IOrchestrationStore store, string instanceId, string name = "Workflow", DateTime? createdAt = null, string? output = "\"done\"")
    {
        await CreateAsync(store, instanceId, name, createdAt: createdAt);
        var workItem = await LockAsync(store, instanceId);
        await RunEpisodeAsync(store, workItem, Actions.Complete(0, output));
    }

    /// <summary>Locks the next orchestration work item, which must be <paramref name="instanceId"/>'s.</summary>
    protected static async Task<OrchestrationWorkItem> LockAsync(IOrchestrationStore store, string instanceId, TimeSpan? lease = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        var workItem = await store.TryLockOrchestrationAsync(lease ?? Lease, Ct);
        Assert.NotNull(workItem);
        Assert.Equal(instanceId, workItem.InstanceId);
        return workItem;
    }

    /// <summary>Locks every orchestration work item on offer now, by instance id.</summary>
    protected static async Task<Dictionary<string, OrchestrationWorkItem>> LockAllAsync(IOrchestrationStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var all = new Dictionary<string, OrchestrationWorkItem>(StringComparer.Ordinal);
        while (await store.TryLockOrchestrationAsync(Lease, Ct) is { } workItem)
        {
            Assert.True(all.TryAdd(workItem.InstanceId, workItem), $"'{workItem.InstanceId}' was handed out twice.");
        }

        return all;
    }

    /// <summary>Asserts that no orchestration work is on offer.</summary>
    protected static async Task AssertNoOrchestrationWorkAsync(IOrchestrationStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var workItem = await store.TryLockOrchestrationAsync(Lease, Ct);
        Assert.True(workItem is null, $"Expected no orchestration work, got '{workItem?.InstanceId}' with [{string.Join(", ", Kinds(workItem?.NewMessages ?? []))}].");
    }

    /// <summary>Asserts that no activity is on offer.</summary>
    protected static async Task AssertNoActivityWorkAsync(IOrchestrationStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var workItem = await store.TryLockActivityAsync(Lease, Ct);
        Assert.True(workItem is null, $"Expected no activity, got '{workItem?.Request.Name}' #{workItem?.Request.TaskId} of '{workItem?.InstanceId}'.");
    }

    /// <summary>Asserts that no entity work is on offer.</summary>
    protected static async Task AssertNoEntityWorkAsync(IOrchestrationStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var workItem = await store.TryLockEntityAsync(Lease, Ct);
        Assert.True(workItem is null, $"Expected no entity work, got '{workItem?.InstanceId}' with {workItem?.Operations.Count} operations.");
    }

    /// <summary>Builds an episode's checkpoint the way the worker does: open the episode, apply the actions.</summary>
    protected OrchestrationCheckpoint Episode(OrchestrationWorkItem workItem, params OrchestratorAction[] actions)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        if (ActionApplier.TryTerminate(workItem, Now, out var terminated))
        {
            return terminated!;
        }

        var response = new OrchestratorResponse { InstanceId = workItem.InstanceId };
        response.Actions.AddRange(actions);
        return ActionApplier.Apply(workItem, ActionApplier.OpenEpisode(workItem, Now), response, Now);
    }

    /// <summary>Builds an episode's checkpoint and commits it.</summary>
    protected async Task<OrchestrationCheckpoint> RunEpisodeAsync(IOrchestrationStore store, OrchestrationWorkItem workItem, params OrchestratorAction[] actions)
    {
        ArgumentNullException.ThrowIfNull(store);
        var checkpoint = Episode(workItem, actions);
        await store.CompleteOrchestrationAsync(workItem, checkpoint, Ct);
        return checkpoint;
    }

    /// <summary>Locks an instance and commits one episode with the given actions.</summary>
    protected async Task<OrchestrationCheckpoint> RunNextEpisodeAsync(IOrchestrationStore store, string instanceId, params OrchestratorAction[] actions) =>
        await RunEpisodeAsync(store, await LockAsync(store, instanceId), actions);

    /// <summary>Wakes an idle instance with an event and commits the episode that handles it with the given actions.</summary>
    protected async Task<OrchestrationCheckpoint> WakeAsync(IOrchestrationStore store, string instanceId, params OrchestratorAction[] actions)
    {
        ArgumentNullException.ThrowIfNull(store);
        Assert.True(await store.SendMessageAsync(instanceId, Messages.Event("wake"), Ct));
        return await RunNextEpisodeAsync(store, instanceId, actions);
    }

    /// <summary>Reads an instance that must exist.</summary>
    protected static async Task<OrchestrationMetadata> GetAsync(IOrchestrationStore store, string instanceId, bool includePayloads = false)
    {
        ArgumentNullException.ThrowIfNull(store);
        var instance = await store.GetInstanceAsync(instanceId, includePayloads, Ct);
        Assert.NotNull(instance);
        return instance;
    }

    /// <summary>The event types of a sequence of events, for readable assertions.</summary>
    protected static HistoryEvent.EventTypeOneofCase[] Kinds(IEnumerable<HistoryEvent> events) => [.. events.Select(e => e.EventTypeCase)];

    /// <summary>A successful entity batch: the new state and one success per operation.</summary>
    protected static EntityBatchResult BatchResult(EntityWorkItem workItem, string? state, string? output = null)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        var result = new EntityBatchResult { EntityState = state };
        foreach (var _ in workItem.Operations)
        {
            result.Results.Add(new OperationResult { Success = new OperationResultSuccess { Result = output } });
        }

        return result;
    }

    /// <summary>A token that cancels when the test does or after <paramref name="seconds"/>, so a broken store fails instead of hanging.</summary>
    protected static CancellationTokenSource Timeout(int seconds = 30)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromSeconds(seconds));
        return cts;
    }
}
