using System.Diagnostics;
using KataWorkflows.Engine.Serialization;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;

namespace KataWorkflows.Engine.Client;

/// <summary>
/// The engine's own client over a store, kept only while tests still use the engine's client abstraction; production
/// code uses <see cref="StoreDurableTaskClient"/>, the Durable Task SDK's client over the same store.
/// </summary>
public sealed class LegacyStoreDurableTaskClient : DurableTaskClient
{
    private readonly IOrchestrationStore _store;
    private readonly DataConverter _converter;
    private readonly TimeProvider _time;

    /// <summary>Creates a client over a store.</summary>
    public LegacyStoreDurableTaskClient(IOrchestrationStore store, DataConverter? converter = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _converter = converter ?? DataConverter.Default;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public override async Task<string> ScheduleNewOrchestrationInstanceAsync(
        string orchestratorName, object? input = null, StartOrchestrationOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(orchestratorName))
        {
            throw new ArgumentException("The orchestrator name is empty.", nameof(orchestratorName));
        }

        var instanceId = options?.InstanceId ?? InstanceIds.NewOrderedId();
        InstanceIds.Validate(instanceId, nameof(StartOrchestrationOptions.InstanceId));
        string? json;
        try
        {
            json = _converter.Serialize(input);
        }
        catch (PayloadSerializationException ex)
        {
            throw new ArgumentException($"The input of orchestration '{orchestratorName}' cannot be serialized: {ex.Message}", nameof(input), ex);
        }

        await _store.StartAsync(cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow().UtcDateTime;
        var executionId = Guid.NewGuid().ToString("N");
        var startAt = options?.StartAt?.UtcDateTime;

        // The producer span's context (else the caller's) is stored in ExecutionStarted: the run's spans join this
        // trace in whichever process runs them, however often it restarts.
        var explicitParent = options?.TraceParent is { } tp && ActivityContext.TryParse(tp, null, out var parsed) ? parsed : default;
        using var span = EngineTelemetry.StartCreateOrchestrationSpan(orchestratorName, options?.Version, instanceId, executionId, explicitParent);
        var traceContext = EngineTelemetry.TraceContextToStore(span, options?.TraceParent);
        var started = new ExecutionStartedEvent
        {
            Name = orchestratorName,
            Version = options?.Version,
            Input = json,
            OrchestrationInstance = new OrchestrationInstance { InstanceId = instanceId, ExecutionId = executionId },
            ScheduledStartTimestamp = startAt is { } at ? Timestamp.FromDateTime(at) : null,
            ParentTraceContext = traceContext,
            OrchestrationSpanID = traceContext is null ? null : EngineTelemetry.NewSpanId(),
        };
        var tags = options?.Tags ?? new Dictionary<string, string>();
        foreach (var tag in tags)
        {
            started.Tags[tag.Key] = tag.Value;
        }

        await _store.CreateInstanceAsync(
            new NewInstance
            {
                Metadata = new OrchestrationMetadata
                {
                    InstanceId = instanceId,
                    Name = orchestratorName,
                    Version = options?.Version,
                    ExecutionId = executionId,
                    Status = OrchestrationRuntimeStatus.Pending,
                    CreatedAt = now,
                    LastUpdatedAt = now,
                    ScheduledStartAt = startAt,
                    SerializedInput = json,
                    Tags = tags,
                    TraceParent = traceContext?.TraceParent,
                },
                ExecutionStarted = new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(now), ExecutionStarted = started },
                ReplaceTerminal = options?.ReplaceTerminalInstance ?? false,
            },
            cancellationToken).ConfigureAwait(false);
        return instanceId;
    }

    /// <inheritdoc />
    public override async Task<OrchestrationMetadata?> GetInstanceAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        await _store.StartAsync(cancellationToken).ConfigureAwait(false);
        return await _store.GetInstanceAsync(instanceId, getInputsAndOutputs, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override Task<OrchestrationMetadata> WaitForInstanceStartAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellationToken = default) =>
        WaitAsync(instanceId, getInputsAndOutputs, m => m.Status != OrchestrationRuntimeStatus.Pending, cancellationToken);

    /// <inheritdoc />
    public override Task<OrchestrationMetadata> WaitForInstanceCompletionAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellationToken = default) =>
        WaitAsync(instanceId, getInputsAndOutputs, m => m.IsTerminal, cancellationToken);

    private async Task<OrchestrationMetadata> WaitAsync(string instanceId, bool payloads, Func<OrchestrationMetadata, bool> done, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        await _store.StartAsync(cancellationToken).ConfigureAwait(false);
        while (true)
        {
            // Ask to be woken before reading, so a change in between is not missed.
            var changed = _store.WaitForStatusChangeAsync(instanceId, cancellationToken);
            var metadata = await _store.GetInstanceAsync(instanceId, payloads, cancellationToken).ConfigureAwait(false)
                ?? throw new InstanceNotFoundException(instanceId);
            if (done(metadata))
            {
                return metadata;
            }

            // The row the change committed answers when it is the one waited for: a finished instance has left the
            // store's memory, and reading it again would go to the backend.
            var next = await changed.ConfigureAwait(false);
            if (done(next))
            {
                return payloads ? next : next.WithoutPayloads();
            }
        }
    }

    /// <inheritdoc />
    public override async Task RaiseEventAsync(string instanceId, string eventName, object? eventData = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        if (string.IsNullOrWhiteSpace(eventName))
        {
            throw new ArgumentException("The event name is empty.", nameof(eventName));
        }

        var json = SerializeArgument(eventData, nameof(eventData));
        await SendAsync(instanceId, new HistoryEvent { EventRaised = new EventRaisedEvent { Name = eventName, Input = json } }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task TerminateInstanceAsync(string instanceId, object? output = null, bool recursive = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        var json = SerializeArgument(output, nameof(output));
        await SendAsync(
            instanceId, new HistoryEvent { ExecutionTerminated = new ExecutionTerminatedEvent { Input = json, Recurse = recursive } }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task SuspendInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        if (!await SendAsync(instanceId, new HistoryEvent { ExecutionSuspended = new ExecutionSuspendedEvent { Input = reason } }, cancellationToken).ConfigureAwait(false))
        {
            await ThrowTerminalAsync(instanceId, "suspend", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override async Task ResumeInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        if (!await SendAsync(instanceId, new HistoryEvent { ExecutionResumed = new ExecutionResumedEvent { Input = reason } }, cancellationToken).ConfigureAwait(false))
        {
            await ThrowTerminalAsync(instanceId, "resume", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override async Task<string> RestartInstanceAsync(string instanceId, bool restartWithNewInstanceId = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        var original = await GetInstanceAsync(instanceId, getInputsAndOutputs: true, cancellationToken).ConfigureAwait(false)
            ?? throw new InstanceNotFoundException(instanceId);
        if (!restartWithNewInstanceId && !original.IsTerminal)
        {
            throw new InstanceStateException(instanceId, original.Status, "restart under the same id");
        }

        var options = new StartOrchestrationOptions
        {
            InstanceId = restartWithNewInstanceId ? null : instanceId,
            ReplaceTerminalInstance = !restartWithNewInstanceId,
            Version = original.Version,
            Tags = original.Tags,
        };
        object? json = original.SerializedInput is null ? null : System.Text.Json.JsonDocument.Parse(original.SerializedInput).RootElement.Clone();
        return await ScheduleNewOrchestrationInstanceAsync(original.Name, json, options, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task<int> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        await _store.StartAsync(cancellationToken).ConfigureAwait(false);
        return await _store.PurgeInstanceAsync(instanceId, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task<int> PurgeInstancesAsync(PurgeFilter filter, CancellationToken cancellationToken = default)
    {
        await _store.StartAsync(cancellationToken).ConfigureAwait(false);
        return await _store.PurgeInstancesAsync(filter, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task<InstancePage> QueryInstancesAsync(OrchestrationQuery query, CancellationToken cancellationToken = default)
    {
        await _store.StartAsync(cancellationToken).ConfigureAwait(false);
        return await _store.QueryInstancesAsync(query, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, string? executionId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        await _store.StartAsync(cancellationToken).ConfigureAwait(false);
        _ = await _store.GetInstanceAsync(instanceId, includePayloads: false, cancellationToken).ConfigureAwait(false)
            ?? throw new InstanceNotFoundException(instanceId);
        return await _store.GetHistoryAsync(instanceId, executionId, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task SignalEntityAsync(
        EntityInstanceId id, string operationName, object? input = null, DateTimeOffset? signalTime = null, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(operationName))
        {
            throw new ArgumentException("The operation name is empty.", nameof(operationName));
        }

        var json = SerializeArgument(input, nameof(input));
        await _store.StartAsync(cancellationToken).ConfigureAwait(false);
        await _store.SignalEntityAsync(id, operationName, json, signalTime?.UtcDateTime, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task<EntityMetadata?> GetEntityAsync(EntityInstanceId id, bool includeState = true, CancellationToken cancellationToken = default)
    {
        await _store.StartAsync(cancellationToken).ConfigureAwait(false);
        return await _store.GetEntityAsync(id, includeState, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task<EntityPage> QueryEntitiesAsync(EntityListQuery query, CancellationToken cancellationToken = default)
    {
        await _store.StartAsync(cancellationToken).ConfigureAwait(false);
        return await _store.QueryEntitiesAsync(query, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task<CleanEntityStorageResult> CleanEntityStorageAsync(
        bool removeEmptyEntities = true, bool releaseOrphanedLocks = true, CancellationToken cancellationToken = default)
    {
        await _store.StartAsync(cancellationToken).ConfigureAwait(false);
        return await _store.CleanEntityStorageAsync(removeEmptyEntities, releaseOrphanedLocks, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> SendAsync(string instanceId, HistoryEvent message, CancellationToken cancellationToken)
    {
        message.EventId = -1;
        message.Timestamp = Timestamp.FromDateTime(_time.GetUtcNow().UtcDateTime);
        await _store.StartAsync(cancellationToken).ConfigureAwait(false);
        return await _store.SendMessageAsync(instanceId, message, cancellationToken).ConfigureAwait(false);
    }

    private async Task ThrowTerminalAsync(string instanceId, string operation, CancellationToken cancellationToken)
    {
        var metadata = await _store.GetInstanceAsync(instanceId, includePayloads: false, cancellationToken).ConfigureAwait(false)
            ?? throw new InstanceNotFoundException(instanceId);
        throw new InstanceStateException(instanceId, metadata.Status, operation);
    }

    private string? SerializeArgument(object? value, string parameterName)
    {
        try
        {
            return _converter.Serialize(value);
        }
        catch (PayloadSerializationException ex)
        {
            throw new ArgumentException($"{parameterName} cannot be serialized: {ex.Message}", parameterName, ex);
        }
    }
}
