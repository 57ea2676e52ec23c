using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Client;

/// <summary>Starts and manages orchestration instances and entities, and reads their state and history.</summary>
public abstract class DurableTaskClient
{
    /// <summary>Schedules a new instance of an orchestrator and returns its id.</summary>
    /// <exception cref="ArgumentException">The name or instance id is invalid, or the input cannot be serialized; nothing was stored.</exception>
    /// <exception cref="InstanceAlreadyExistsException">The id is in use.</exception>
    public abstract Task<string> ScheduleNewOrchestrationInstanceAsync(
        string orchestratorName, object? input = null, StartOrchestrationOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Reads an instance; null when it does not exist.</summary>
    public abstract Task<OrchestrationMetadata?> GetInstanceAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellationToken = default);

    /// <summary>Waits until the instance has started (is no longer Pending).</summary>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    public abstract Task<OrchestrationMetadata> WaitForInstanceStartAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellationToken = default);

    /// <summary>Waits until the instance is terminal (completed, failed or terminated).</summary>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    public abstract Task<OrchestrationMetadata> WaitForInstanceCompletionAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellationToken = default);

    /// <summary>Raises an event on an instance. An event for a terminal instance is dropped.</summary>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    public abstract Task RaiseEventAsync(string instanceId, string eventName, object? eventData = null, CancellationToken cancellationToken = default);

    /// <summary>Terminates an instance (and its sub-orchestrations when <paramref name="recursive"/>); a terminal one is left as it is.</summary>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    public abstract Task TerminateInstanceAsync(string instanceId, object? output = null, bool recursive = false, CancellationToken cancellationToken = default);

    /// <summary>Suspends an instance: events are held until it resumes.</summary>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    /// <exception cref="InstanceStateException">The instance is terminal.</exception>
    public abstract Task SuspendInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Resumes a suspended instance.</summary>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    /// <exception cref="InstanceStateException">The instance is terminal.</exception>
    public abstract Task ResumeInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Starts an instance again with its original name and input; returns the id of the new run.</summary>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    /// <exception cref="InstanceStateException">Restarting under the same id while it still runs.</exception>
    public abstract Task<string> RestartInstanceAsync(string instanceId, bool restartWithNewInstanceId = false, CancellationToken cancellationToken = default);

    /// <summary>Removes a terminal instance and its history; returns 1, or 0 when it did not exist.</summary>
    /// <exception cref="InstanceStateException">The instance is not terminal.</exception>
    public abstract Task<int> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken = default);

    /// <summary>Removes the terminal instances matching a filter; returns how many.</summary>
    public abstract Task<int> PurgeInstancesAsync(PurgeFilter filter, CancellationToken cancellationToken = default);

    /// <summary>Lists instances, a page at a time.</summary>
    public abstract Task<InstancePage> QueryInstancesAsync(OrchestrationQuery query, CancellationToken cancellationToken = default);

    /// <summary>The history of an execution (the current one when null), in order.</summary>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    public abstract Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, string? executionId = null, CancellationToken cancellationToken = default);

    /// <summary>Sends an operation to an entity, one way.</summary>
    public abstract Task SignalEntityAsync(EntityInstanceId id, string operationName, object? input = null, DateTimeOffset? signalTime = null, CancellationToken cancellationToken = default);

    /// <summary>Reads an entity; null when it does not exist.</summary>
    public abstract Task<EntityMetadata?> GetEntityAsync(EntityInstanceId id, bool includeState = true, CancellationToken cancellationToken = default);

    /// <summary>Lists entities, a page at a time.</summary>
    public abstract Task<EntityPage> QueryEntitiesAsync(EntityListQuery query, CancellationToken cancellationToken = default);

    /// <summary>Removes empty entities and releases locks whose holder no longer runs.</summary>
    public abstract Task<CleanEntityStorageResult> CleanEntityStorageAsync(
        bool removeEmptyEntities = true, bool releaseOrphanedLocks = true, CancellationToken cancellationToken = default);

    /// <summary>Every instance matching a query, across pages.</summary>
    public async IAsyncEnumerable<OrchestrationMetadata> GetAllInstancesAsync(
        OrchestrationQuery query, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var page = await QueryInstancesAsync(query, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            foreach (var instance in page.Instances)
            {
                yield return instance;
            }

            if (page.ContinuationToken is null)
            {
                yield break;
            }

            page = await QueryInstancesAsync(query with { ContinuationToken = page.ContinuationToken }, cancellationToken).ConfigureAwait(false);
        }
    }
}
