using KataWorkflows.Engine;
using KataWorkflows.Engine.Serialization;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;
using KataWorkflows.Storage.Sqlite;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.RealSandbox.Tests.Harness;

/// <summary>Reads what a host left in its SQLite store, while no host runs on it (its lock is free once the host is gone).</summary>
public sealed class StoreReader : IAsyncDisposable
{
    private readonly OrchestrationStore _store;

    private StoreReader(OrchestrationStore store)
    {
        _store = store;
    }

    /// <summary>Opens the site's store.</summary>
    public static async Task<StoreReader> OpenAsync(RealSite site)
    {
        ArgumentNullException.ThrowIfNull(site);
        var store = SqliteOrchestrationStore.Create(new SqliteStoreOptions { Path = site.Database });
        await store.StartAsync(TestContext.Current.CancellationToken);
        return new StoreReader(store);
    }

    /// <summary>A run's history.</summary>
    public Task<IReadOnlyList<HistoryEvent>> HistoryAsync(string instanceId) => _store.GetHistoryAsync(instanceId, executionId: null, TestContext.Current.CancellationToken);

    /// <summary>A run's state.</summary>
    public Task<OrchestrationMetadata?> RunAsync(string instanceId) => _store.GetInstanceAsync(instanceId, includePayloads: true, TestContext.Current.CancellationToken);

    /// <summary>A sandbox's record and whether its entity is locked.</summary>
    public async Task<(SandboxRecord? Record, bool Locked)> SandboxAsync(string sandboxId)
    {
        var entity = await _store.GetEntityAsync(SandboxEntity.IdFor(sandboxId), includeState: true, TestContext.Current.CancellationToken);
        return (DataConverter.Default.Deserialize<SandboxRecord>(entity?.SerializedState), entity?.LockedBy is not null);
    }

    /// <summary>The activities scheduled whose result is not in the history.</summary>
    public static IReadOnlyList<string> OpenTasks(IReadOnlyList<HistoryEvent> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var done = history.Select(e => e.TaskCompleted?.TaskScheduledId ?? e.TaskFailed?.TaskScheduledId).OfType<int>().ToHashSet();
        return [.. history.Where(e => e.TaskScheduled is not null && !done.Contains(e.EventId)).Select(e => e.TaskScheduled.Name)];
    }

    /// <summary>The names of the activities a run scheduled, in order.</summary>
    public static IReadOnlyList<string> Scheduled(IReadOnlyList<HistoryEvent> history) =>
        [.. history.Where(e => e.TaskScheduled is not null).Select(e => e.TaskScheduled.Name)];

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _store.DisposeAsync();
}
