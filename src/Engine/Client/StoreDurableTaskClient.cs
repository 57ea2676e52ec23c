using System.Diagnostics;
using KataWorkflows.Engine.Sdk;
using KataWorkflows.Engine.Serialization;
using KataWorkflows.Engine.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using CoreAlreadyExists = DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException;
using CoreHistory = DurableTask.Core.History;
using Dt = Microsoft.DurableTask;
using DtClient = Microsoft.DurableTask.Client;
using DtEntities = Microsoft.DurableTask.Client.Entities;
using P = Microsoft.DurableTask.Protobuf;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;

namespace KataWorkflows.Engine.Client;

/// <summary>
/// The Durable Task SDK's <see cref="DtClient.DurableTaskClient"/> over an <see cref="IOrchestrationStore"/> in the same
/// process: what the SDK's gRPC client does over a sidecar, done against the store directly. Registered with
/// <c>services.AddDurableTaskClient(b =&gt; b.UseBuildTarget&lt;StoreDurableTaskClient&gt;())</c> (the engine's
/// <c>AddDurableTaskEngine</c> does that). Inputs, outputs and event payloads go through the options'
/// <see cref="DtClient.DurableTaskClientOptions.DataConverter"/>.
/// </summary>
/// <remarks>
/// <para>Errors: an unknown instance is <see cref="InstanceNotFoundException"/>; an instance in the wrong state for the
/// call (suspending a finished one, purging a running one) is <see cref="InstanceStateException"/>; an id in use is
/// <see cref="CoreAlreadyExists"/> (Core's type, as the SDK documents) with the store's
/// <see cref="InstanceAlreadyExistsException"/> inside; bad arguments (a bad filter, a token no query returned, input
/// that cannot be serialized) are <see cref="ArgumentException"/>s that name the argument. Nothing is stored when a call
/// fails.</para>
/// <para>What the SDK's client has no member for stays here as extra methods: the store's instance records, with the
/// fields <see cref="DtClient.OrchestrationMetadata"/> lacks (version, execution id, completion and scheduled start
/// times, parent), and the protocol history of any execution (<see cref="GetHistoryAsync"/>) that the sidecar streams
/// and kwf exports.</para>
/// </remarks>
public sealed class StoreDurableTaskClient : DtClient.DurableTaskClient
{
    /// <summary>
    /// The maximum timer interval the history mapper assumes (the SDK worker's default). It only shapes the name of a
    /// scheduled entity signal in <see cref="GetOrchestrationHistoryAsync"/>'s Core events.
    /// </summary>
    public static readonly TimeSpan HistoryTimerInterval = TimeSpan.FromDays(3);

    private static readonly OrchestrationRuntimeStatus[] TerminalStatuses =
        [OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated, OrchestrationRuntimeStatus.Canceled];

    private readonly IOrchestrationStore _store;
    private readonly DtClient.DurableTaskClientOptions _options;
    private readonly Dt.DataConverter _converter;
    private readonly TimeProvider _time;
    private readonly StoreDurableEntityClient? _entities;

    /// <summary>Creates the client the SDK's client builder builds: options by <paramref name="name"/>.</summary>
    [ActivatorUtilitiesConstructor]
    public StoreDurableTaskClient(
        string name, IOrchestrationStore store, IOptionsMonitor<DtClient.DurableTaskClientOptions> options, TimeProvider? timeProvider = null)
        : this(name, store, (options ?? throw new ArgumentNullException(nameof(options))).Get(name), timeProvider)
    {
    }

    /// <summary>
    /// Creates a client over a store. Without <paramref name="options"/>: entity support on and the engine's JSON options
    /// (<see cref="SdkDataConverter.Default"/>), as <c>AddDurableTaskEngine</c> configures it.
    /// </summary>
    public StoreDurableTaskClient(IOrchestrationStore store, DtClient.DurableTaskClientOptions? options = null, TimeProvider? timeProvider = null)
        : this(Options.DefaultName, store, options ?? new DtClient.DurableTaskClientOptions { EnableEntitySupport = true, DataConverter = SdkDataConverter.Default }, timeProvider)
    {
    }

    private StoreDurableTaskClient(string name, IOrchestrationStore store, DtClient.DurableTaskClientOptions options, TimeProvider? timeProvider)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _options = options;
        _converter = options.DataConverter ?? Dt.Converters.JsonDataConverter.Default;
        _time = timeProvider ?? TimeProvider.System;
        _entities = options.EnableEntitySupport ? new StoreDurableEntityClient(name, store, _converter) : null;
    }

    /// <summary>The store this client works on.</summary>
    public IOrchestrationStore Store => _store;

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">Entity support is off in the client's options.</exception>
    public override StoreDurableEntityClient Entities => _entities
        ?? throw new NotSupportedException(
            $"Durable entities are disabled because {nameof(DtClient.DurableTaskClientOptions)}.{nameof(DtClient.DurableTaskClientOptions.EnableEntitySupport)}=false");

    /// <inheritdoc />
    /// <remarks>
    /// <para>The instance id defaults to a new ordered id. <see cref="Dt.StartOrchestrationOptions.DedupeStatuses"/>: null
    /// means any existing instance with the id is a conflict; otherwise a terminal instance whose status is not listed is
    /// replaced. An instance that has not finished is always a conflict: this client does not terminate a running
    /// instance to replace it. A <see cref="StoreStartOrchestrationOptions.TraceParent"/> is the trace the run joins.</para>
    /// </remarks>
    /// <exception cref="ArgumentException">The name, instance id or a dedupe status is invalid, or the input cannot be serialized; nothing was stored.</exception>
    /// <exception cref="CoreAlreadyExists">The id is in use.</exception>
    public override Task<string> ScheduleNewOrchestrationInstanceAsync(
        Dt.TaskName orchestratorName, object? input = null, Dt.StartOrchestrationOptions? options = null, CancellationToken cancellation = default)
    {
        if (string.IsNullOrWhiteSpace(orchestratorName.Name))
        {
            throw new ArgumentException("The orchestrator name is empty.", nameof(orchestratorName));
        }

        var json = Serialize(input, nameof(input), $"the input of orchestration '{orchestratorName.Name}'");
        var version = options?.Version is { } v ? v.Version
            : string.IsNullOrEmpty(_options.DefaultVersion) ? null : _options.DefaultVersion;
        return ScheduleAsync(orchestratorName.Name, json, version, options, cancellation);
    }

    /// <inheritdoc />
    /// <remarks>An event for a finished instance is dropped, as the protocol has it.</remarks>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    public override async Task RaiseEventAsync(string instanceId, string eventName, object? eventPayload = null, CancellationToken cancellation = default)
    {
        CheckInstanceId(instanceId);
        if (string.IsNullOrWhiteSpace(eventName))
        {
            throw new ArgumentException("The event name is empty.", nameof(eventName));
        }

        var json = Serialize(eventPayload, nameof(eventPayload), $"the payload of event '{eventName}'");
        await SendAsync(instanceId, new P.HistoryEvent { EventRaised = new P.EventRaisedEvent { Name = eventName, Input = json } }, cancellation).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    public override async Task<DtClient.OrchestrationMetadata> WaitForInstanceStartAsync(
        string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default)
    {
        CheckInstanceId(instanceId);
        return ToSdk(await WaitForInstanceStartRecordAsync(instanceId, getInputsAndOutputs, cancellation).ConfigureAwait(false));
    }

    /// <inheritdoc />
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    public override async Task<DtClient.OrchestrationMetadata> WaitForInstanceCompletionAsync(
        string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default)
    {
        CheckInstanceId(instanceId);
        return ToSdk(await WaitForInstanceCompletionRecordAsync(instanceId, getInputsAndOutputs, cancellation).ConfigureAwait(false));
    }

    /// <inheritdoc />
    /// <remarks>A terminal instance is left as it is. With <see cref="DtClient.TerminateInstanceOptions.Recursive"/> its sub-orchestrations are terminated too.</remarks>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    public override async Task TerminateInstanceAsync(string instanceId, DtClient.TerminateInstanceOptions? options = null, CancellationToken cancellation = default)
    {
        CheckInstanceId(instanceId);
        var json = Serialize(options?.Output, nameof(DtClient.TerminateInstanceOptions.Output), $"the output of terminated instance '{instanceId}'");
        await SendAsync(
            instanceId,
            new P.HistoryEvent { ExecutionTerminated = new P.ExecutionTerminatedEvent { Input = json, Recurse = options?.Recursive ?? false } },
            cancellation).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    /// <exception cref="InstanceStateException">The instance is terminal.</exception>
    public override async Task SuspendInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default)
    {
        CheckInstanceId(instanceId);
        if (!await SendAsync(instanceId, new P.HistoryEvent { ExecutionSuspended = new P.ExecutionSuspendedEvent { Input = reason } }, cancellation).ConfigureAwait(false))
        {
            await ThrowTerminalAsync(instanceId, "suspend", cancellation).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    /// <exception cref="InstanceStateException">The instance is terminal.</exception>
    public override async Task ResumeInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default)
    {
        CheckInstanceId(instanceId);
        if (!await SendAsync(instanceId, new P.HistoryEvent { ExecutionResumed = new P.ExecutionResumedEvent { Input = reason } }, cancellation).ConfigureAwait(false))
        {
            await ThrowTerminalAsync(instanceId, "resume", cancellation).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override async Task<DtClient.OrchestrationMetadata?> GetInstancesAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default)
    {
        CheckInstanceId(instanceId);
        var record = await GetInstanceRecordAsync(instanceId, getInputsAndOutputs, cancellation).ConfigureAwait(false);
        return record is null ? null : ToSdk(record);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Ordered by creation time, then instance id; a page's continuation token marks its last instance, so paging never
    /// skips or repeats one. Task hub names must be left empty: the store is one task hub.
    /// </remarks>
    /// <exception cref="ArgumentException">A field of the filter is out of range (enumerating throws it).</exception>
    public override Dt.AsyncPageable<DtClient.OrchestrationMetadata> GetAllInstancesAsync(DtClient.OrchestrationQuery? filter = null)
    {
        if (filter?.TaskHubNames?.Any() == true)
        {
            throw new ArgumentException("TaskHubNames: this store is a single task hub; leave the list empty.", nameof(filter));
        }

        if (filter?.InstanceIdPrefix is { Length: > 0 } prefix)
        {
            CheckInstanceId(prefix);
        }

        return Dt.Pageable.Create<DtClient.OrchestrationMetadata>(async (token, pageSize, cancellation) =>
        {
            var page = await QueryInstanceRecordsAsync(
                new OrchestrationQuery
                {
                    Statuses = filter?.Statuses is { } statuses ? [.. statuses.Select(s => (OrchestrationRuntimeStatus)(int)s)] : null,
                    CreatedFrom = filter?.CreatedFrom?.UtcDateTime,
                    CreatedTo = filter?.CreatedTo?.UtcDateTime,
                    InstanceIdPrefix = filter?.InstanceIdPrefix,
                    PageSize = pageSize ?? filter?.PageSize ?? DtClient.OrchestrationQuery.DefaultPageSize,
                    ContinuationToken = token ?? filter?.ContinuationToken,
                    IncludePayloads = filter?.FetchInputsAndOutputs ?? false,
                },
                cancellation).ConfigureAwait(false);
            return new Dt.Page<DtClient.OrchestrationMetadata>([.. page.Instances.Select(ToSdk)], page.ContinuationToken);
        });
    }

    /// <inheritdoc />
    /// <remarks>
    /// Completed-time bounds keep only finished instances completed in [from, to); without them every instance is
    /// listed. <paramref name="lastInstanceKey"/> is the key of the previous page; the page returned has one when it is full.
    /// </remarks>
    /// <exception cref="ArgumentException">The page size is not between 1 and 1000, or the key was not returned by this call.</exception>
    public override async Task<Dt.Page<string>> ListInstanceIdsAsync(
        IEnumerable<DtClient.OrchestrationRuntimeStatus>? runtimeStatus = null,
        DateTimeOffset? completedTimeFrom = null,
        DateTimeOffset? completedTimeTo = null,
        int pageSize = 100,
        string? lastInstanceKey = null,
        CancellationToken cancellation = default)
    {
        if (pageSize is < 1 or > OrchestrationQuery.MaxPageSize)
        {
            throw new ArgumentException($"pageSize must be between 1 and {OrchestrationQuery.MaxPageSize}, not {pageSize}.", nameof(pageSize));
        }

        DateTime? from = completedTimeFrom?.UtcDateTime, to = completedTimeTo?.UtcDateTime;
        var statuses = runtimeStatus?.Select(s => (OrchestrationRuntimeStatus)(int)s).ToArray();
        var query = new OrchestrationQuery
        {
            Statuses = statuses is { Length: > 0 } ? statuses : null,
            PageSize = pageSize,
            ContinuationToken = string.IsNullOrEmpty(lastInstanceKey) ? null : lastInstanceKey,
        };
        var ids = new List<string>();
        while (true)
        {
            var page = await QueryInstanceRecordsAsync(query, cancellation).ConfigureAwait(false);
            foreach (var instance in page.Instances)
            {
                if ((from is null && to is null)
                    || (instance.CompletedAt is { } done && (from is null || done >= from) && (to is null || done < to)))
                {
                    ids.Add(instance.InstanceId);
                    if (ids.Count == pageSize)
                    {
                        // The key marks the last id returned, so the next page starts right after it.
                        return new Dt.Page<string>(ids, new PageToken(instance.CreatedAt, instance.InstanceId).ToString());
                    }
                }
            }

            if (page.ContinuationToken is null)
            {
                return new Dt.Page<string>(ids, null);
            }

            query = query with { ContinuationToken = page.ContinuationToken };
        }
    }

    /// <inheritdoc />
    /// <remarks>Returns a count of 1, or 0 when there was no such instance. Recursive purges are not supported: purge each sub-orchestration.</remarks>
    /// <exception cref="InstanceStateException">The instance is not terminal.</exception>
    /// <exception cref="NotSupportedException"><see cref="DtClient.PurgeInstanceOptions.Recursive"/> was asked for.</exception>
    public override async Task<DtClient.PurgeResult> PurgeInstanceAsync(string instanceId, DtClient.PurgeInstanceOptions? options = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        RefuseRecursivePurge(options);
        await _store.StartAsync(cancellation).ConfigureAwait(false);
        return new DtClient.PurgeResult(await _store.PurgeInstanceAsync(instanceId, cancellation).ConfigureAwait(false), isComplete: true);
    }

    /// <inheritdoc />
    /// <remarks>Removes the terminal instances the filter matches in one pass (the result is always complete); the filter's timeout is not needed.</remarks>
    /// <exception cref="ArgumentException">The filter names a status that is not terminal.</exception>
    /// <exception cref="NotSupportedException"><see cref="DtClient.PurgeInstanceOptions.Recursive"/> was asked for.</exception>
    public override async Task<DtClient.PurgeResult> PurgeAllInstancesAsync(
        DtClient.PurgeInstancesFilter filter, DtClient.PurgeInstanceOptions? options = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        RefuseRecursivePurge(options);
        var purge = new PurgeFilter
        {
            CreatedFrom = filter.CreatedFrom?.UtcDateTime,
            CreatedTo = filter.CreatedTo?.UtcDateTime,
            Statuses = filter.Statuses is { } statuses ? [.. statuses.Select(s => (OrchestrationRuntimeStatus)(int)s)] : null,
        };
        purge.Validate();
        await _store.StartAsync(cancellation).ConfigureAwait(false);
        return new DtClient.PurgeResult(await _store.PurgeInstancesAsync(purge, cancellation).ConfigureAwait(false), isComplete: true);
    }

    /// <inheritdoc />
    /// <remarks>Starts the orchestration again with its name, version, tags and input; under the same id the old run must be terminal and is replaced.</remarks>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    /// <exception cref="InstanceStateException">Restarting under the same id while it still runs.</exception>
    public override async Task<string> RestartAsync(string instanceId, bool restartWithNewInstanceId = false, CancellationToken cancellation = default)
    {
        var original = await GetInstanceRecordAsync(instanceId, getInputsAndOutputs: true, cancellation).ConfigureAwait(false)
            ?? throw new InstanceNotFoundException(instanceId);
        if (!restartWithNewInstanceId && !original.IsTerminal)
        {
            throw new InstanceStateException(instanceId, original.Status, "restart under the same id");
        }

        var options = new Dt.StartOrchestrationOptions
        {
            InstanceId = restartWithNewInstanceId ? null : instanceId,
            Tags = original.Tags,

            // Any terminal status may be replaced: the check above already made sure it is terminal.
            DedupeStatuses = restartWithNewInstanceId ? null : [],
        };
        return await ScheduleAsync(original.Name, original.SerializedInput, original.Version, options, cancellation).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>The current execution's events, mapped to DurableTask.Core's by <see cref="CoreHistoryMapper"/>.</remarks>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    public override async Task<IList<CoreHistory.HistoryEvent>> GetOrchestrationHistoryAsync(string instanceId, CancellationToken cancellation = default)
    {
        var history = await GetHistoryAsync(instanceId, executionId: null, cancellation).ConfigureAwait(false);
        return new CoreHistoryMapper(HistoryTimerInterval).ToCore(history);
    }

    /// <inheritdoc />
    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// The protocol history of an execution of an instance (the current one when <paramref name="executionId"/> is null),
    /// in order: what the store keeps, the sidecar streams and kwf exports.
    /// </summary>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    public async Task<IReadOnlyList<P.HistoryEvent>> GetHistoryAsync(string instanceId, string? executionId = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        await _store.StartAsync(cancellation).ConfigureAwait(false);
        _ = await _store.GetInstanceAsync(instanceId, includePayloads: false, cancellation).ConfigureAwait(false)
            ?? throw new InstanceNotFoundException(instanceId);
        return await _store.GetHistoryAsync(instanceId, executionId, cancellation).ConfigureAwait(false);
    }

    /// <summary>The store's record of an instance (every field the protocol's <c>OrchestrationState</c> has); null when it does not exist.</summary>
    public async Task<OrchestrationMetadata?> GetInstanceRecordAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        await _store.StartAsync(cancellation).ConfigureAwait(false);
        return await _store.GetInstanceAsync(instanceId, getInputsAndOutputs, cancellation).ConfigureAwait(false);
    }

    /// <summary>Waits until the instance is no longer Pending; returns the store's record.</summary>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    public Task<OrchestrationMetadata> WaitForInstanceStartRecordAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        WaitAsync(instanceId, getInputsAndOutputs, m => m.Status != OrchestrationRuntimeStatus.Pending, cancellation);

    /// <summary>Waits until the instance is terminal (completed, failed or terminated); returns the store's record.</summary>
    /// <exception cref="InstanceNotFoundException">No such instance.</exception>
    public Task<OrchestrationMetadata> WaitForInstanceCompletionRecordAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        WaitAsync(instanceId, getInputsAndOutputs, m => m.IsTerminal, cancellation);

    /// <summary>One page of the store's instance records.</summary>
    /// <exception cref="ArgumentException">A field of the query is out of range, or its token was not returned by a query.</exception>
    public async Task<InstancePage> QueryInstanceRecordsAsync(OrchestrationQuery query, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        await _store.StartAsync(cancellation).ConfigureAwait(false);
        return await _store.QueryInstancesAsync(query, cancellation).ConfigureAwait(false);
    }

    /// <summary>The SDK's view of a store record.</summary>
    public DtClient.OrchestrationMetadata ToSdk(OrchestrationMetadata record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return new DtClient.OrchestrationMetadata(record.Name, record.InstanceId)
        {
            DataConverter = _converter,
            RuntimeStatus = (DtClient.OrchestrationRuntimeStatus)(int)record.Status,
            CreatedAt = new DateTimeOffset(DateTime.SpecifyKind(record.CreatedAt, DateTimeKind.Utc)),
            LastUpdatedAt = new DateTimeOffset(DateTime.SpecifyKind(record.LastUpdatedAt, DateTimeKind.Utc)),
            SerializedInput = record.SerializedInput,
            SerializedOutput = record.SerializedOutput,
            SerializedCustomStatus = record.SerializedCustomStatus,
            Tags = record.Tags,
            FailureDetails = ToSdk(record.FailureDetails),
        };
    }

    /// <summary>The SDK's failure details of a stored failure; null in, null out.</summary>
    public static Dt.TaskFailureDetails? ToSdk(FailureDetails? failure) =>
        failure is null ? null : new Dt.TaskFailureDetails(failure.ErrorType, failure.ErrorMessage, failure.StackTrace, ToSdk(failure.InnerFailure), null);

    private async Task<string> ScheduleAsync(string name, string? json, string? version, Dt.StartOrchestrationOptions? options, CancellationToken cancellation)
    {
        var instanceId = options?.InstanceId ?? InstanceIds.NewOrderedId();
        InstanceIds.Validate(instanceId, nameof(Dt.StartOrchestrationOptions.InstanceId));
        CheckInstanceId(instanceId);
        var replaceable = ReplaceableStatuses(options?.DedupeStatuses);
        var traceParent = (options as StoreStartOrchestrationOptions)?.TraceParent;

        await _store.StartAsync(cancellation).ConfigureAwait(false);
        var now = _time.GetUtcNow().UtcDateTime;
        var executionId = Guid.NewGuid().ToString("N");
        var startAt = options?.StartAt?.UtcDateTime;

        // The producer span's context (else the caller's) is stored in ExecutionStarted: the run's spans join this
        // trace in whichever process runs them, however often it restarts.
        var explicitParent = traceParent is not null && ActivityContext.TryParse(traceParent, null, out var parsed) ? parsed : default;
        using var span = EngineTelemetry.StartCreateOrchestrationSpan(name, version, instanceId, executionId, explicitParent);
        var traceContext = EngineTelemetry.TraceContextToStore(span, traceParent);
        var started = new P.ExecutionStartedEvent
        {
            Name = name,
            Version = version,
            Input = json,
            OrchestrationInstance = new P.OrchestrationInstance { InstanceId = instanceId, ExecutionId = executionId },
            ScheduledStartTimestamp = startAt is { } at ? Timestamp.FromDateTime(at) : null,
            ParentTraceContext = traceContext,
            OrchestrationSpanID = traceContext is null ? null : EngineTelemetry.NewSpanId(),
        };
        var tags = options?.Tags ?? new Dictionary<string, string>();
        foreach (var tag in tags)
        {
            started.Tags[tag.Key] = tag.Value;
        }

        try
        {
            await _store.CreateInstanceAsync(
                new NewInstance
                {
                    Metadata = new OrchestrationMetadata
                    {
                        InstanceId = instanceId,
                        Name = name,
                        Version = version,
                        ExecutionId = executionId,
                        Status = OrchestrationRuntimeStatus.Pending,
                        CreatedAt = now,
                        LastUpdatedAt = now,
                        ScheduledStartAt = startAt,
                        SerializedInput = json,
                        Tags = tags,
                        TraceParent = traceContext?.TraceParent,
                    },
                    ExecutionStarted = new P.HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(now), ExecutionStarted = started },
                    ReplaceTerminal = replaceable is { Count: > 0 },
                    ReplaceableStatuses = replaceable,
                },
                cancellation).ConfigureAwait(false);
        }
        catch (InstanceAlreadyExistsException exists)
        {
            throw new CoreAlreadyExists(exists.Message, exists);
        }

        return instanceId;
    }

    /// <summary>The terminal statuses a start may replace: those not in the dedupe statuses; none when they are null.</summary>
    private static List<OrchestrationRuntimeStatus>? ReplaceableStatuses(IReadOnlyList<string>? dedupeStatuses)
    {
        if (dedupeStatuses is null)
        {
            return null;
        }

        var dedupe = new HashSet<OrchestrationRuntimeStatus>();
        foreach (var name in dedupeStatuses)
        {
            if (!Enum.TryParse<OrchestrationRuntimeStatus>(name, ignoreCase: true, out var status) || !Enum.IsDefined(status) || int.TryParse(name, out _))
            {
                throw new ArgumentException(
                    $"DedupeStatuses: '{name}' is not an orchestration status (one of {string.Join(", ", Enum.GetNames<OrchestrationRuntimeStatus>())}).",
                    nameof(dedupeStatuses));
            }

            dedupe.Add(status);
        }

        return [.. TerminalStatuses.Where(s => !dedupe.Contains(s))];
    }

    private static void RefuseRecursivePurge(DtClient.PurgeInstanceOptions? options)
    {
        if (options?.Recursive == true)
        {
            throw new NotSupportedException("Recursive purge of sub-orchestrations is not supported by this store; purge each instance.");
        }
    }

    private async Task<OrchestrationMetadata> WaitAsync(string instanceId, bool payloads, Func<OrchestrationMetadata, bool> done, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        await _store.StartAsync(cancellation).ConfigureAwait(false);
        while (true)
        {
            // Ask to be woken before reading, so a change in between is not missed.
            var changed = _store.WaitForStatusChangeAsync(instanceId, cancellation);
            var metadata = await _store.GetInstanceAsync(instanceId, payloads, cancellation).ConfigureAwait(false)
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

    private async Task<bool> SendAsync(string instanceId, P.HistoryEvent message, CancellationToken cancellation)
    {
        message.EventId = -1;
        message.Timestamp = Timestamp.FromDateTime(_time.GetUtcNow().UtcDateTime);
        await _store.StartAsync(cancellation).ConfigureAwait(false);
        return await _store.SendMessageAsync(instanceId, message, cancellation).ConfigureAwait(false);
    }

    private async Task ThrowTerminalAsync(string instanceId, string operation, CancellationToken cancellation)
    {
        var metadata = await _store.GetInstanceAsync(instanceId, includePayloads: false, cancellation).ConfigureAwait(false)
            ?? throw new InstanceNotFoundException(instanceId);
        throw new InstanceStateException(instanceId, metadata.Status, operation);
    }

    /// <summary>
    /// An instance id is given, and with entity support on is not an entity's, as the SDK's gRPC client checks on the
    /// calls that take an orchestration's id (the store-record methods leave that to the store, as the protocol does).
    /// </summary>
    private void CheckInstanceId(string instanceId)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        if (_options.EnableEntitySupport && instanceId.StartsWith('@'))
        {
            throw new ArgumentException($"'{instanceId}' is an entity; signal it instead of sending it orchestration messages.", nameof(instanceId));
        }
    }

    private string? Serialize(object? value, string parameterName, string what) => StoreDurableEntityClient.Serialize(_converter, value, parameterName, what);
}

/// <summary>Start options with what the store client honours beyond the SDK's: the trace the run joins.</summary>
public sealed record StoreStartOrchestrationOptions : Dt.StartOrchestrationOptions
{
    /// <summary>The W3C traceparent the run continues; the current activity's when null (a protocol caller's trace context).</summary>
    public string? TraceParent { get; init; }
}

/// <summary>Maps SDK entity ids to the store's.</summary>
internal static class EntityIds
{
    public static EntityInstanceId ToStore(Dt.Entities.EntityInstanceId id) => new(id.Name, id.Key);

    public static Dt.Entities.EntityInstanceId ToSdk(EntityInstanceId id) => new(id.Name, id.Key);

    public static string Describe(Dt.Entities.EntityInstanceId id) => $"@{id.Name}@{id.Key}";

    public static void Check(Dt.Entities.EntityInstanceId id, string parameterName)
    {
        if (string.IsNullOrEmpty(id.Name) || string.IsNullOrEmpty(id.Key))
        {
            throw new ArgumentException($"The entity id '{Describe(id)}' needs a name and a key.", parameterName);
        }
    }
}
