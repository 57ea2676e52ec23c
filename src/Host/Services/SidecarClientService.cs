using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;
using Dt = Microsoft.DurableTask;
using DtClient = Microsoft.DurableTask.Client;
using DtEntities = Microsoft.DurableTask.Client.Entities;
using ProtoEntityMetadata = Microsoft.DurableTask.Protobuf.EntityMetadata;

namespace KataWorkflows.Host.Services;

/// <summary>
/// The client-facing calls of the Durable Task sidecar protocol (<c>TaskHubSidecarService</c>) over the Durable Task
/// SDK's client of the store (<see cref="StoreDurableTaskClient"/>), so the official SDK clients can start, query and
/// manage instances and entities on this host. Reads that answer with an <c>OrchestrationState</c> use the client's
/// store-record methods: the SDK's <c>OrchestrationMetadata</c> has no version, execution id, completion time,
/// scheduled start or parent, which the protocol carries. The worker
/// calls (GetWorkItems, Complete*, Abandon*) and the task-hub calls return Unimplemented: orchestrations run in the
/// host's own worker.
/// </summary>
internal sealed class SidecarClientService : TaskHubSidecarService.TaskHubSidecarServiceBase
{
    /// <summary>Most instance ids a purge batch may name, as in the protocol.</summary>
    public const int MaxPurgeBatch = 500;

    /// <summary>Largest history chunk streamed, in bytes.</summary>
    public const int MaxChunkBytes = 1024 * 1024;

    private const string NoRemoteWorkers = "this host runs orchestrations in its own worker; remote workers are not supported";

    private readonly StoreDurableTaskClient _client;

    /// <summary>Creates the service over the host's client, which must be the store's.</summary>
    public SidecarClientService(DtClient.DurableTaskClient client) =>
        _client = client as StoreDurableTaskClient
            ?? throw new InvalidOperationException($"The sidecar API serves the store's client ({nameof(StoreDurableTaskClient)}), not {client?.GetType().FullName ?? "null"}.");

    /// <inheritdoc />
    public override Task<Empty> Hello(Empty request, ServerCallContext context) => Task.FromResult(new Empty());

    /// <inheritdoc />
    public override async Task<CreateInstanceResponse> StartInstance(CreateInstanceRequest request, ServerCallContext context)
    {
        Require(request.Name, "name");

        // The protocol names the terminal statuses an existing instance may be replaced in; the SDK names the ones that
        // block the start (dedupe statuses). No policy: any existing instance is a conflict.
        List<string>? dedupe = null;
        if (request.OrchestrationIdReusePolicy is { ReplaceableStatus.Count: > 0 } policy)
        {
            dedupe = [.. DtClient.StartOrchestrationOptionsExtensions.ValidDedupeStatuses
                .Where(s => !policy.ReplaceableStatus.Contains((OrchestrationStatus)(int)s))
                .Select(s => s.ToString())];
        }

        var input = Payload(request.Input, "input");
        var id = await _client.ScheduleNewOrchestrationInstanceAsync(
            request.Name,
            input,
            new StoreStartOrchestrationOptions
            {
                InstanceId = request.InstanceId.Length == 0 ? null : request.InstanceId,
                Version = request.Version is { } version ? new Dt.TaskVersion(version) : null,
                StartAt = At(request.ScheduledStartTimestamp, "scheduledStartTimestamp"),
                DedupeStatuses = dedupe,
                Tags = new Dictionary<string, string>(request.Tags),
                TraceParent = request.ParentTraceContext is { TraceParent.Length: > 0 } trace ? trace.TraceParent : null,
            },
            context.CancellationToken);
        return new CreateInstanceResponse { InstanceId = id };
    }

    /// <inheritdoc />
    public override async Task<GetInstanceResponse> GetInstance(GetInstanceRequest request, ServerCallContext context)
    {
        Require(request.InstanceId, "instanceId");
        var instance = await _client.GetInstanceRecordAsync(request.InstanceId, request.GetInputsAndOutputs, context.CancellationToken);
        return instance is null ? new GetInstanceResponse { Exists = false } : new GetInstanceResponse { Exists = true, OrchestrationState = State(instance) };
    }

    /// <inheritdoc />
    public override async Task<GetInstanceResponse> WaitForInstanceStart(GetInstanceRequest request, ServerCallContext context)
    {
        Require(request.InstanceId, "instanceId");
        var instance = await _client.WaitForInstanceStartRecordAsync(request.InstanceId, request.GetInputsAndOutputs, context.CancellationToken);
        return new GetInstanceResponse { Exists = true, OrchestrationState = State(instance) };
    }

    /// <inheritdoc />
    public override async Task<GetInstanceResponse> WaitForInstanceCompletion(GetInstanceRequest request, ServerCallContext context)
    {
        Require(request.InstanceId, "instanceId");
        var instance = await _client.WaitForInstanceCompletionRecordAsync(request.InstanceId, request.GetInputsAndOutputs, context.CancellationToken);
        return new GetInstanceResponse { Exists = true, OrchestrationState = State(instance) };
    }

    /// <inheritdoc />
    public override async Task<RaiseEventResponse> RaiseEvent(RaiseEventRequest request, ServerCallContext context)
    {
        Require(request.InstanceId, "instanceId");
        Require(request.Name, "name");
        await _client.RaiseEventAsync(request.InstanceId, request.Name, Payload(request.Input, "input"), context.CancellationToken);
        return new RaiseEventResponse();
    }

    /// <inheritdoc />
    public override async Task<TerminateResponse> TerminateInstance(TerminateRequest request, ServerCallContext context)
    {
        Require(request.InstanceId, "instanceId");
        await _client.TerminateInstanceAsync(
            request.InstanceId, new DtClient.TerminateInstanceOptions { Output = Payload(request.Output, "output"), Recursive = request.Recursive }, context.CancellationToken);
        return new TerminateResponse();
    }

    /// <inheritdoc />
    public override async Task<SuspendResponse> SuspendInstance(SuspendRequest request, ServerCallContext context)
    {
        Require(request.InstanceId, "instanceId");
        await _client.SuspendInstanceAsync(request.InstanceId, request.Reason, context.CancellationToken);
        return new SuspendResponse();
    }

    /// <inheritdoc />
    public override async Task<ResumeResponse> ResumeInstance(ResumeRequest request, ServerCallContext context)
    {
        Require(request.InstanceId, "instanceId");
        await _client.ResumeInstanceAsync(request.InstanceId, request.Reason, context.CancellationToken);
        return new ResumeResponse();
    }

    /// <inheritdoc />
    public override async Task<RestartInstanceResponse> RestartInstance(RestartInstanceRequest request, ServerCallContext context)
    {
        Require(request.InstanceId, "instanceId");
        var id = await _client.RestartAsync(request.InstanceId, request.RestartWithNewInstanceId, context.CancellationToken);
        return new RestartInstanceResponse { InstanceId = id };
    }

    /// <inheritdoc />
    public override async Task<QueryInstancesResponse> QueryInstances(QueryInstancesRequest request, ServerCallContext context)
    {
        var q = request.Query ?? new InstanceQuery();
        if (q.MaxInstanceCount is < 0 or > OrchestrationQuery.MaxPageSize)
        {
            throw Invalid("query.maxInstanceCount", $"must be between 0 and {OrchestrationQuery.MaxPageSize}, got {q.MaxInstanceCount}");
        }

        var page = await _client.QueryInstanceRecordsAsync(
            new OrchestrationQuery
            {
                Statuses = q.RuntimeStatus.Count == 0 ? null : [.. q.RuntimeStatus.Select(s => (OrchestrationRuntimeStatus)s)],
                CreatedFrom = Time(q.CreatedTimeFrom, "query.createdTimeFrom"),
                CreatedTo = Time(q.CreatedTimeTo, "query.createdTimeTo"),
                InstanceIdPrefix = q.InstanceIdPrefix,
                PageSize = q.MaxInstanceCount == 0 ? 100 : q.MaxInstanceCount,
                ContinuationToken = Token(q.ContinuationToken, "query.continuationToken"),
                IncludePayloads = q.FetchInputsAndOutputs,
            },
            context.CancellationToken);
        var response = new QueryInstancesResponse { ContinuationToken = page.ContinuationToken };
        response.OrchestrationState.AddRange(page.Instances.Select(State));
        return response;
    }

    /// <inheritdoc />
    public override async Task<ListInstanceIdsResponse> ListInstanceIds(ListInstanceIdsRequest request, ServerCallContext context)
    {
        if (request.PageSize is < 0 or > OrchestrationQuery.MaxPageSize)
        {
            throw Invalid("pageSize", $"must be between 0 and {OrchestrationQuery.MaxPageSize}, got {request.PageSize}");
        }

        var page = await _client.ListInstanceIdsAsync(
            request.RuntimeStatus.Count == 0 ? null : [.. request.RuntimeStatus.Select(s => (DtClient.OrchestrationRuntimeStatus)(int)s)],
            At(request.CompletedTimeFrom, "completedTimeFrom"),
            At(request.CompletedTimeTo, "completedTimeTo"),
            request.PageSize == 0 ? 100 : request.PageSize,
            Token(request.LastInstanceKey, "lastInstanceKey"),
            context.CancellationToken);
        var response = new ListInstanceIdsResponse { LastInstanceKey = page.ContinuationToken };
        response.InstanceIds.AddRange(page.Values);
        return response;
    }

    /// <inheritdoc />
    public override async Task<PurgeInstancesResponse> PurgeInstances(PurgeInstancesRequest request, ServerCallContext context)
    {
        if (request.Recursive)
        {
            throw new RpcException(new Status(StatusCode.Unimplemented, "PurgeInstances: recursive purge of sub-orchestrations is not supported; purge each instance"));
        }

        int deleted;
        switch (request.RequestCase)
        {
            case PurgeInstancesRequest.RequestOneofCase.InstanceId:
                Require(request.InstanceId, "instanceId");
                deleted = (await _client.PurgeInstanceAsync(request.InstanceId, cancellation: context.CancellationToken)).PurgedInstanceCount;
                break;
            case PurgeInstancesRequest.RequestOneofCase.PurgeInstanceFilter:
                var f = request.PurgeInstanceFilter;
                deleted = (await _client.PurgeAllInstancesAsync(
                    new DtClient.PurgeInstancesFilter(
                        At(f.CreatedTimeFrom, "purgeInstanceFilter.createdTimeFrom"),
                        At(f.CreatedTimeTo, "purgeInstanceFilter.createdTimeTo"),
                        f.RuntimeStatus.Count == 0 ? null : [.. f.RuntimeStatus.Select(s => (DtClient.OrchestrationRuntimeStatus)(int)s)]),
                    cancellation: context.CancellationToken)).PurgedInstanceCount;
                break;
            case PurgeInstancesRequest.RequestOneofCase.InstanceBatch:
                var ids = request.InstanceBatch.InstanceIds;
                if (ids.Count > MaxPurgeBatch)
                {
                    throw Invalid("instanceBatch.instanceIds", $"names {ids.Count} instances; at most {MaxPurgeBatch} per call");
                }

                deleted = 0;
                foreach (var id in ids)
                {
                    deleted += (await _client.PurgeInstanceAsync(id, cancellation: context.CancellationToken)).PurgedInstanceCount;
                }

                break;
            default:
                throw Invalid("request", "one of instanceId, purgeInstanceFilter or instanceBatch is required");
        }

        return new PurgeInstancesResponse { DeletedInstanceCount = deleted, IsComplete = true };
    }

    /// <inheritdoc />
    public override async Task StreamInstanceHistory(StreamInstanceHistoryRequest request, IServerStreamWriter<HistoryChunk> responseStream, ServerCallContext context)
    {
        Require(request.InstanceId, "instanceId");
        var history = await _client.GetHistoryAsync(request.InstanceId, request.ExecutionId, context.CancellationToken);
        var chunk = new HistoryChunk();
        var size = 0;
        foreach (var e in history)
        {
            var eventSize = e.CalculateSize();
            if (chunk.Events.Count > 0 && size + eventSize > MaxChunkBytes)
            {
                await responseStream.WriteAsync(chunk, context.CancellationToken);
                (chunk, size) = (new HistoryChunk(), 0);
            }

            chunk.Events.Add(e);
            size += eventSize;
        }

        await responseStream.WriteAsync(chunk, context.CancellationToken);
    }

    /// <inheritdoc />
    public override async Task<SignalEntityResponse> SignalEntity(SignalEntityRequest request, ServerCallContext context)
    {
        Require(request.Name, "name");
        var id = EntityId(request.InstanceId);
        var input = Payload(request.Input, "input");
        var options = new Dt.Entities.SignalEntityOptions { SignalTime = At(request.ScheduledTime, "scheduledTime") };
        await _client.Entities.SignalEntityAsync(id, request.Name, input, options, context.CancellationToken);
        return new SignalEntityResponse();
    }

    /// <inheritdoc />
    public override async Task<GetEntityResponse> GetEntity(GetEntityRequest request, ServerCallContext context)
    {
        var entity = await _client.Entities.GetEntityAsync(EntityId(request.InstanceId), request.IncludeState, context.CancellationToken);
        return entity is null ? new GetEntityResponse { Exists = false } : new GetEntityResponse { Exists = true, Entity = Entity(entity) };
    }

    /// <inheritdoc />
    public override async Task<QueryEntitiesResponse> QueryEntities(QueryEntitiesRequest request, ServerCallContext context)
    {
        var q = request.Query ?? new EntityQuery();
        if (q.PageSize is < 1 or > OrchestrationQuery.MaxPageSize)
        {
            throw Invalid("query.pageSize", $"must be between 1 and {OrchestrationQuery.MaxPageSize}, got {q.PageSize}");
        }

        var filter = new DtEntities.EntityQuery
        {
            InstanceIdStartsWith = q.InstanceIdStartsWith,
            IncludeState = q.IncludeState,
            IncludeTransient = q.IncludeTransient,
            PageSize = q.PageSize ?? 100,
            ContinuationToken = q.ContinuationToken,
            LastModifiedFrom = At(q.LastModifiedFrom, "query.lastModifiedFrom"),
            LastModifiedTo = At(q.LastModifiedTo, "query.lastModifiedTo"),
        };

        // One page: the protocol's caller pages with the token it gets back.
        await foreach (var page in _client.Entities.GetAllEntitiesAsync(filter).AsPages().WithCancellation(context.CancellationToken))
        {
            var response = new QueryEntitiesResponse { ContinuationToken = page.ContinuationToken };
            response.Entities.AddRange(page.Values.Select(Entity));
            return response;
        }

        return new QueryEntitiesResponse();
    }

    /// <inheritdoc />
    public override async Task<CleanEntityStorageResponse> CleanEntityStorage(CleanEntityStorageRequest request, ServerCallContext context)
    {
        // One pass cleans the whole store, so there is never a continuation.
        var result = await _client.Entities.CleanEntityStorageAsync(
            new DtEntities.CleanEntityStorageRequest { RemoveEmptyEntities = request.RemoveEmptyEntities, ReleaseOrphanedLocks = request.ReleaseOrphanedLocks },
            continueUntilComplete: false,
            context.CancellationToken);
        return new CleanEntityStorageResponse { EmptyEntitiesRemoved = result.EmptyEntitiesRemoved, OrphanedLocksReleased = result.OrphanedLocksReleased };
    }

    /// <inheritdoc />
    public override Task<RewindInstanceResponse> RewindInstance(RewindInstanceRequest request, ServerCallContext context) =>
        throw Unimplemented("RewindInstance", "rewinding a failed instance is not supported; use RestartInstance");

    /// <inheritdoc />
    public override Task GetWorkItems(GetWorkItemsRequest request, IServerStreamWriter<WorkItem> responseStream, ServerCallContext context) =>
        throw Unimplemented("GetWorkItems", NoRemoteWorkers);

    /// <inheritdoc />
    public override Task<CompleteTaskResponse> CompleteActivityTask(ActivityResponse request, ServerCallContext context) =>
        throw Unimplemented("CompleteActivityTask", NoRemoteWorkers);

    /// <inheritdoc />
    public override Task<CompleteTaskResponse> CompleteOrchestratorTask(OrchestratorResponse request, ServerCallContext context) =>
        throw Unimplemented("CompleteOrchestratorTask", NoRemoteWorkers);

    /// <inheritdoc />
    public override Task<CompleteTaskResponse> CompleteEntityTask(EntityBatchResult request, ServerCallContext context) =>
        throw Unimplemented("CompleteEntityTask", NoRemoteWorkers);

    /// <inheritdoc />
    public override Task<AbandonActivityTaskResponse> AbandonTaskActivityWorkItem(AbandonActivityTaskRequest request, ServerCallContext context) =>
        throw Unimplemented("AbandonTaskActivityWorkItem", NoRemoteWorkers);

    /// <inheritdoc />
    public override Task<AbandonOrchestrationTaskResponse> AbandonTaskOrchestratorWorkItem(AbandonOrchestrationTaskRequest request, ServerCallContext context) =>
        throw Unimplemented("AbandonTaskOrchestratorWorkItem", NoRemoteWorkers);

    /// <inheritdoc />
    public override Task<AbandonEntityTaskResponse> AbandonTaskEntityWorkItem(AbandonEntityTaskRequest request, ServerCallContext context) =>
        throw Unimplemented("AbandonTaskEntityWorkItem", NoRemoteWorkers);

    /// <inheritdoc />
    public override Task<CreateTaskHubResponse> CreateTaskHub(CreateTaskHubRequest request, ServerCallContext context) =>
        throw Unimplemented("CreateTaskHub", "the host's store is created and migrated at start");

    /// <inheritdoc />
    public override Task<DeleteTaskHubResponse> DeleteTaskHub(DeleteTaskHubRequest request, ServerCallContext context) =>
        throw Unimplemented("DeleteTaskHub", "delete the store file (see docs/operations.md) or purge instances instead");

    /// <inheritdoc />
    public override Task<SkipGracefulOrchestrationTerminationsResponse> SkipGracefulOrchestrationTerminations(
        SkipGracefulOrchestrationTerminationsRequest request, ServerCallContext context) =>
        throw Unimplemented("SkipGracefulOrchestrationTerminations", "use TerminateInstance");

    /// <summary>The protocol's view of an instance.</summary>
    public static OrchestrationState State(OrchestrationMetadata m)
    {
        ArgumentNullException.ThrowIfNull(m);
        var state = new OrchestrationState
        {
            InstanceId = m.InstanceId,
            Name = m.Name,
            Version = m.Version,
            OrchestrationStatus = (OrchestrationStatus)m.Status,
            CreatedTimestamp = Time(m.CreatedAt),
            LastUpdatedTimestamp = Time(m.LastUpdatedAt),
            ScheduledStartTimestamp = m.ScheduledStartAt is { } start ? Time(start) : null,
            CompletedTimestamp = m.CompletedAt is { } done ? Time(done) : null,
            Input = m.SerializedInput,
            Output = m.SerializedOutput,
            CustomStatus = m.SerializedCustomStatus,
            FailureDetails = m.FailureDetails?.ToProto(),
            ExecutionId = m.ExecutionId,
            ParentInstanceId = m.ParentInstanceId,
        };
        foreach (var (key, value) in m.Tags)
        {
            state.Tags[key] = value;
        }
        return state;
    }

    private static ProtoEntityMetadata Entity(DtEntities.EntityMetadata e) => new()
    {
        InstanceId = e.Id.ToString(),
        LastModifiedTime = Timestamp.FromDateTimeOffset(e.LastModifiedTime),
        BacklogQueueSize = e.BacklogQueueSize,
        LockedBy = e.LockedBy,
        SerializedState = e.IncludesState ? e.State?.Value : null,
    };

    private static Timestamp Time(DateTime at) => Timestamp.FromDateTime(DateTime.SpecifyKind(at, DateTimeKind.Utc));

    /// <summary>A JSON payload passed through as it is (parsed, so it is stored once, not re-encoded as a string).</summary>
    private static JsonElement? Payload(string? json, string field)
    {
        if (json is null)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw Invalid(field, $"is not valid JSON: {ex.Message}");
        }
    }

    /// <summary>A protocol time as a UTC time; one outside 0001-01-01..9999-12-31 (or with bad nanos) names its field.</summary>
    private static DateTime? Time(Timestamp? time, string field)
    {
        if (time is null)
        {
            return null;
        }

        try
        {
            return time.ToDateTime();
        }
        catch (InvalidOperationException)
        {
            throw Invalid(field, $"is not a valid time (seconds {time.Seconds}, nanos {time.Nanos}): it must lie between 0001-01-01 and 9999-12-31 UTC, with nanos from 0 to 999999999");
        }
    }

    private static DateTimeOffset? At(Timestamp? time, string field) => Time(time, field) is { } at ? new DateTimeOffset(at, TimeSpan.Zero) : null;

    /// <summary>A continuation token as the client got it from a previous page; anything else names its field.</summary>
    private static string? Token(string? token, string field)
    {
        if (string.IsNullOrEmpty(token))
        {
            // An empty wrapper is what some clients send for "no token": the first page.
            return null;
        }

        try
        {
            _ = PageToken.Parse(token);
            return token;
        }
        catch (ArgumentException)
        {
            throw Invalid(field, "is not a token returned by a previous page of this query");
        }
    }

    private static Dt.Entities.EntityInstanceId EntityId(string instanceId)
    {
        try
        {
            var id = EntityInstanceId.Parse(instanceId);
            return new Dt.Entities.EntityInstanceId(id.Name, id.Key);
        }
        catch (FormatException ex)
        {
            throw Invalid("instanceId", ex.Message);
        }
        catch (ArgumentException ex)
        {
            throw Invalid("instanceId", ex.Message);
        }
    }

    private static void Require(string value, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw Invalid(field, "must not be empty");
        }
    }

    private static RpcException Invalid(string field, string message) => new(new Status(StatusCode.InvalidArgument, $"{field}: {message}"));

    private static RpcException Unimplemented(string method, string why) =>
        new(new Status(StatusCode.Unimplemented, $"TaskHubSidecarService.{method} is not implemented by the Kata Workflows host: {why}"));
}
