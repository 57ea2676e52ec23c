using Google.Protobuf.WellKnownTypes;
using CoreEntities = DurableTask.Core.Entities;
using CoreOps = DurableTask.Core.Entities.OperationFormat;
using P = Microsoft.DurableTask.Protobuf;
using SdkFactory = Microsoft.DurableTask.Worker.IDurableTaskFactory;
using SdkFactory2 = Microsoft.DurableTask.Worker.IDurableTaskFactory2;
using SdkShimFactory = Microsoft.DurableTask.Worker.Shims.DurableTaskShimFactory;

namespace KataWorkflows.Engine.Sdk;

/// <summary>
/// Runs batches of entity operations written with the official SDK (<c>TaskEntity&lt;TState&gt;</c> or any
/// <c>ITaskEntity</c>) through its entity shim, in the protocol's entity shapes.
/// </summary>
public sealed class SdkEntityRunner
{
    /// <summary>The error type of every operation of an entity whose name no registered entity has.</summary>
    public const string EntityNotFoundErrorType = "EntityTaskNotFound";

    private readonly SdkFactory2? _factory;
    private readonly IServiceProvider _services;
    private readonly SdkShimFactory _shims;

    /// <summary>Creates a runner over the factory's entities (a factory without entities fails every operation).</summary>
    public SdkEntityRunner(SdkFactory factory, IServiceProvider services, SdkShimFactory shims)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(shims);
        _factory = factory as SdkFactory2;
        _services = services;
        _shims = shims;
    }

    /// <summary>Runs a batch given as the protocol's <see cref="P.EntityBatchRequest"/>.</summary>
    public Task<P.EntityBatchResult> RunAsync(P.EntityBatchRequest request, IServiceProvider? services = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var batch = new CoreOps.EntityBatchRequest
        {
            InstanceId = request.InstanceId,
            EntityState = request.EntityState,
            Operations = new List<CoreOps.OperationRequest>(request.Operations.Count),
        };
        foreach (var operation in request.Operations)
        {
            batch.Operations.Add(new CoreOps.OperationRequest
            {
                Operation = operation.Operation,
                Id = ParseRequestId(operation.RequestId),
                Input = operation.Input,
                TraceContext = CoreHistoryMapper.ToCore(operation.TraceContext),
            });
        }

        return RunAsync(batch, operationInfos: null, services, cancellationToken);
    }

    /// <summary>
    /// Runs a batch given as the protocol's <see cref="P.EntityRequest"/> (operations as <c>EntityOperationSignaled</c>
    /// or <c>EntityOperationCalled</c> events, the shape the store hands out); the result's operation infos say
    /// where each call's answer goes.
    /// </summary>
    public Task<P.EntityBatchResult> RunAsync(P.EntityRequest request, IServiceProvider? services = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var batch = new CoreOps.EntityBatchRequest
        {
            InstanceId = request.InstanceId,
            EntityState = request.EntityState,
            Operations = new List<CoreOps.OperationRequest>(request.OperationRequests.Count),
        };
        var infos = new List<P.OperationInfo>(request.OperationRequests.Count);
        foreach (var e in request.OperationRequests)
        {
            switch (e.EventTypeCase)
            {
                case P.HistoryEvent.EventTypeOneofCase.EntityOperationSignaled:
                    batch.Operations.Add(new CoreOps.OperationRequest
                    {
                        Operation = e.EntityOperationSignaled.Operation,
                        Id = ParseRequestId(e.EntityOperationSignaled.RequestId),
                        Input = e.EntityOperationSignaled.Input,
                    });
                    infos.Add(new P.OperationInfo { RequestId = e.EntityOperationSignaled.RequestId });
                    break;
                case P.HistoryEvent.EventTypeOneofCase.EntityOperationCalled:
                {
                    var call = e.EntityOperationCalled;
                    batch.Operations.Add(new CoreOps.OperationRequest { Operation = call.Operation, Id = ParseRequestId(call.RequestId), Input = call.Input });
                    infos.Add(new P.OperationInfo
                    {
                        RequestId = call.RequestId,
                        ResponseDestination = call.ParentInstanceId is { } parent
                            ? new P.OrchestrationInstance { InstanceId = parent, ExecutionId = call.ParentExecutionId }
                            : null,
                    });
                    break;
                }

                default:
                    throw new ArgumentException(
                        $"Entity {request.InstanceId} was handed a {e.EventTypeCase} event as an operation; only EntityOperationSignaled and EntityOperationCalled are.",
                        nameof(request));
            }
        }

        return RunAsync(batch, infos, services, cancellationToken);
    }

    private async Task<P.EntityBatchResult> RunAsync(
        CoreOps.EntityBatchRequest batch, List<P.OperationInfo>? operationInfos, IServiceProvider? services, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!CoreHistoryMapper.IsEntityInstanceId(batch.InstanceId))
        {
            throw new ArgumentException($"'{batch.InstanceId}' is not an entity instance id (@name@key).", nameof(batch));
        }

        var id = CoreEntities.EntityId.FromString(batch.InstanceId);
        CoreOps.EntityBatchResult result;
        if (_factory is not null && _factory.TryCreateEntity(id.Name, services ?? _services, out var entity) && entity is not null)
        {
            result = await _shims.CreateEntity(id.Name, entity, id).ExecuteOperationBatchAsync(batch).ConfigureAwait(false);
        }
        else
        {
            result = NotFound(batch, id.Name);
        }

        return ToProtocol(result, operationInfos);
    }

    private static CoreOps.EntityBatchResult NotFound(CoreOps.EntityBatchRequest batch, string name)
    {
        var failure = new DurableTask.Core.FailureDetails(EntityNotFoundErrorType, $"No entity named '{name}' is registered with this worker.", null, null, isNonRetriable: true);
        return new CoreOps.EntityBatchResult
        {
            EntityState = batch.EntityState,
            Actions = [],
            Results = [.. (batch.Operations ?? []).Select(_ => new CoreOps.OperationResult { ErrorMessage = failure.ErrorMessage, FailureDetails = failure })],
        };
    }

    private static P.EntityBatchResult ToProtocol(CoreOps.EntityBatchResult result, List<P.OperationInfo>? operationInfos)
    {
        var p = new P.EntityBatchResult { EntityState = result.EntityState, FailureDetails = CoreHistoryMapper.ToProtocol(result.FailureDetails) };
        foreach (var r in result.Results ?? [])
        {
            var start = At(r.StartTimeUtc);
            var end = At(r.EndTimeUtc);
            p.Results.Add(r.IsError
                ? new P.OperationResult
                {
                    Failure = new P.OperationResultFailure
                    {
                        FailureDetails = CoreHistoryMapper.ToProtocol(r.FailureDetails) ?? new P.TaskFailureDetails { ErrorType = "EntityOperationFailed", ErrorMessage = r.ErrorMessage ?? string.Empty },
                        StartTimeUtc = start,
                        EndTimeUtc = end,
                    },
                }
                : new P.OperationResult { Success = new P.OperationResultSuccess { Result = r.Result, StartTimeUtc = start, EndTimeUtc = end } });
        }

        var actionId = 0;
        foreach (var action in result.Actions ?? [])
        {
            p.Actions.Add(action switch
            {
                CoreOps.SendSignalOperationAction signal => new P.OperationAction
                {
                    Id = actionId++,
                    SendSignal = new P.SendSignalAction
                    {
                        InstanceId = signal.InstanceId ?? string.Empty,
                        Name = signal.Name ?? string.Empty,
                        Input = signal.Input,
                        ScheduledTime = At(signal.ScheduledTime),
                        RequestTime = signal.RequestTime is { } requested ? Timestamp.FromDateTimeOffset(requested) : null,
                        ParentTraceContext = CoreHistoryMapper.ToProtocol(signal.ParentTraceContext),
                    },
                },
                CoreOps.StartNewOrchestrationOperationAction start => new P.OperationAction
                {
                    Id = actionId++,
                    StartNewOrchestration = new P.StartNewOrchestrationAction
                    {
                        InstanceId = start.InstanceId ?? string.Empty,
                        Name = start.Name ?? string.Empty,
                        Version = start.Version,
                        Input = start.Input,
                        ScheduledTime = At(start.ScheduledStartTime),
                        RequestTime = start.RequestTime is { } requested ? Timestamp.FromDateTimeOffset(requested) : null,
                        ParentTraceContext = CoreHistoryMapper.ToProtocol(start.ParentTraceContext),
                    },
                },
                _ => throw new InvalidOperationException($"The SDK returned an entity action of type {action.GetType().Name}, which has no protocol form."),
            });
        }

        if (operationInfos is not null)
        {
            // As the SDK's gRPC worker does: one info per result, for the operations the batch got through.
            p.OperationInfos.Add(operationInfos.Take(p.Results.Count));
        }

        return p;
    }

    private static Timestamp? At(DateTime? time) => time is { } t ? Timestamp.FromDateTime(CoreHistoryMapper.AsUtc(t)) : null;

    // Request ids are GUIDs from every SDK; one that is not still runs, it only has no id inside Core.
    private static Guid ParseRequestId(string requestId) => Guid.TryParse(requestId, out var id) ? id : Guid.Empty;
}
