using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;
using ProtoEntityMetadata = Microsoft.DurableTask.Protobuf.EntityMetadata;

namespace KataWorkflows.Host.Services;

/// <summary>
/// The client-facing calls of the Durable Task sidecar protocol (<c>TaskHubSidecarService</c>) over the engine's
/// client, so the official SDK clients can start, query and manage instances and entities on this host. The worker
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

    private readonly DurableTaskClient _client;

    /// <summary>Creates the service.</summary>
    public SidecarClientService(DurableTaskClient client) => _client = client;

    /// <inheritdoc />
    public override Task<Empty> Hello(Empty request, ServerCallContext context) => Task.FromResult(new Empty());

    /// <inheritdoc />
    public override async Task<CreateInstanceResponse> StartInstance(CreateInstanceRequest request, ServerCallContext context)
    {
        Require(request.Name, "name");
        var replace = false;
        if (request.OrchestrationIdReusePolicy is { ReplaceableStatus.Count: > 0 } policy && request.InstanceId.Length > 0)
        {
            var existing = await _client.GetInstanceAsync(request.InstanceId, false, context.CancellationToken);
            replace = existing is { IsTerminal: true } && policy.ReplaceableStatus.Contains((OrchestrationStatus)existing.Status);
        }

        var id = await _client.ScheduleNewOrchestrationInstanceAsync(
            request.Name,
            Payload(request.Input, "input"),
            new StartOrchestrationOptions
            {
                InstanceId = request.InstanceId.Length == 0 ? null : request.InstanceId,
                Version = request.Version,
                StartAt = At(request.ScheduledStartTimestamp, "scheduledStartTimestamp"),
                ReplaceTerminalInstance = replace,
                Tags = request.Tags.Count == 0 ? null : new Dictionary<string, string>(request.Tags),
                TraceParent = request.ParentTraceContext is { TraceParent.Length: > 0 } trace ? trace.TraceParent : null,
            },
            context.CancellationToken);
        return new CreateInstanceResponse { InstanceId = id };
    }

    /// <inheritdoc />
    public override async Task<GetInstanceResponse> GetInstance(GetInstanceRequest request, ServerCallContext context)
    {
        Require(request.InstanceId, "instanceId");
        var instance = await _client.GetInstanceAsync(request.InstanceId, request.GetInputsAndOutputs, context.CancellationToken);
        return instance is null ? new GetInstanceResponse { Exists = false } : new GetInstanceResponse { Exists = true, OrchestrationState = State(instance) };
    }

    /// <inheritdoc />
    public override async Task<GetInstanceResponse> WaitForInstanceStart(GetInstanceRequest request, ServerCallContext context)
    {
        Require(request.InstanceId, "instanceId");
        var instance = await _client.WaitForInstanceStartAsync(request.InstanceId, request.GetInputsAndOutputs, context.CancellationToken);
        return new GetInstanceResponse { Exists = true, OrchestrationState = State(instance) };
    }

    /// <inheritdoc />
    public override async Task<GetInstanceResponse> WaitForInstanceCompletion(GetInstanceRequest request, ServerCallContext context)
    {
        Require(request.InstanceId, "instanceId");
        var instance = await _client.WaitForInstanceCompletionAsync(request.InstanceId, request.GetInputsAndOutputs, context.CancellationToken);
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
        await _client.TerminateInstanceAsync(request.InstanceId, Payload(request.Output, "output"), request.Recursive, context.CancellationToken);
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
        var id = await _client.RestartInstanceAsync(request.InstanceId, request.RestartWithNewInstanceId, context.CancellationToken);
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

        var page = await _client.QueryInstancesAsync(
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

        var pageSize = request.PageSize == 0 ? 100 : request.PageSize;
        DateTime? from = Time(request.CompletedTimeFrom, "completedTimeFrom"), to = Time(request.CompletedTimeTo, "completedTimeTo");
        var query = new OrchestrationQuery
        {
            Statuses = request.RuntimeStatus.Count == 0 ? null : [.. request.RuntimeStatus.Select(s => (OrchestrationRuntimeStatus)s)],
            PageSize = pageSize,
            ContinuationToken = Token(request.LastInstanceKey, "lastInstanceKey"),
        };
        var response = new ListInstanceIdsResponse();
        while (true)
        {
            var page = await _client.QueryInstancesAsync(query, context.CancellationToken);
            foreach (var instance in page.Instances)
            {
                if ((from is null && to is null)
                    || (instance.CompletedAt is { } done && (from is null || done >= from) && (to is null || done < to)))
                {
                    response.InstanceIds.Add(instance.InstanceId);
                    if (response.InstanceIds.Count == pageSize)
                    {
                        // The key marks the last id returned, so the next page starts right after it.
                        response.LastInstanceKey = new PageToken(instance.CreatedAt, instance.InstanceId).ToString();
                        return response;
                    }
                }
            }

            if (page.ContinuationToken is null)
            {
                return response;
            }

            query = query with { ContinuationToken = page.ContinuationToken };
        }
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
                deleted = await _client.PurgeInstanceAsync(request.InstanceId, context.CancellationToken);
                break;
            case PurgeInstancesRequest.RequestOneofCase.PurgeInstanceFilter:
                var f = request.PurgeInstanceFilter;
                deleted = await _client.PurgeInstancesAsync(
                    new PurgeFilter
                    {
                        CreatedFrom = Time(f.CreatedTimeFrom, "purgeInstanceFilter.createdTimeFrom"),
                        CreatedTo = Time(f.CreatedTimeTo, "purgeInstanceFilter.createdTimeTo"),
                        Statuses = f.RuntimeStatus.Count == 0 ? null : [.. f.RuntimeStatus.Select(s => (OrchestrationRuntimeStatus)s)],
                    },
                    context.CancellationToken);
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
                    deleted += await _client.PurgeInstanceAsync(id, context.CancellationToken);
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
        await _client.SignalEntityAsync(
            EntityId(request.InstanceId), request.Name, Payload(request.Input, "input"), At(request.ScheduledTime, "scheduledTime"), context.CancellationToken);
        return new SignalEntityResponse();
    }

    /// <inheritdoc />
    public override async Task<GetEntityResponse> GetEntity(GetEntityRequest request, ServerCallContext context)
    {
        var entity = await _client.GetEntityAsync(EntityId(request.InstanceId), request.IncludeState, context.CancellationToken);
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

        var page = await _client.QueryEntitiesAsync(
            new EntityListQuery
            {
                InstanceIdStartsWith = q.InstanceIdStartsWith,
                IncludeState = q.IncludeState,
                IncludeTransient = q.IncludeTransient,
                PageSize = q.PageSize ?? 100,
                ContinuationToken = q.ContinuationToken,
            },
            context.CancellationToken);
        DateTime? from = Time(q.LastModifiedFrom, "query.lastModifiedFrom"), to = Time(q.LastModifiedTo, "query.lastModifiedTo");
        var response = new QueryEntitiesResponse { ContinuationToken = page.ContinuationToken };
        response.Entities.AddRange(page.Entities
            .Where(e => (from is null || e.LastModifiedAt >= from) && (to is null || e.LastModifiedAt < to))
            .Select(Entity));
        return response;
    }

    /// <inheritdoc />
    public override async Task<CleanEntityStorageResponse> CleanEntityStorage(CleanEntityStorageRequest request, ServerCallContext context)
    {
        // One pass cleans the whole store, so there is never a continuation.
        var result = await _client.CleanEntityStorageAsync(request.RemoveEmptyEntities, request.ReleaseOrphanedLocks, context.CancellationToken);
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

    private static ProtoEntityMetadata Entity(Engine.EntityMetadata e) => new()
    {
        InstanceId = e.Id.ToString(),
        LastModifiedTime = Time(e.LastModifiedAt),
        BacklogQueueSize = e.BacklogQueueSize,
        LockedBy = e.LockedBy,
        SerializedState = e.SerializedState,
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

    private static EntityInstanceId EntityId(string instanceId)
    {
        try
        {
            return EntityInstanceId.Parse(instanceId);
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
