using Google.Protobuf.WellKnownTypes;
using KataWorkflows.Engine.Serialization;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Execution;

/// <summary>
/// Runs a batch of entity operations one at a time. Each operation sees the state the previous one left; an
/// operation that throws leaves the state and the actions as they were before it, and reports its failure.
/// </summary>
public sealed class EntityExecutor
{
    private readonly DurableTaskRegistry _registry;
    private readonly IServiceProvider _services;
    private readonly DataConverter _converter;
    private readonly TimeProvider _time;

    /// <summary>Creates an executor over the registered entities.</summary>
    public EntityExecutor(DurableTaskRegistry registry, IServiceProvider services, DataConverter converter, TimeProvider time)
    {
        _registry = registry;
        _services = services;
        _converter = converter;
        _time = time;
    }

    /// <summary>Runs the operations of a work item.</summary>
    public async Task<EntityBatchResult> ExecuteAsync(EntityWorkItem workItem)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        var id = EntityInstanceId.Parse(workItem.InstanceId);
        var result = new EntityBatchResult { EntityState = workItem.Entity.SerializedState };
        if (!_registry.TryCreateEntity(id.Name, _services, out var entity))
        {
            result.FailureDetails = new FailureDetails(
                "EntityNotFound", $"No entity named '{id.Name}' is registered with this worker.", IsNonRetriable: true).ToProto();
            return result;
        }

        var state = new TaskEntityState(workItem.Entity.SerializedState, _converter);
        var context = new TaskEntityContext(id, _converter);
        foreach (var message in workItem.Operations)
        {
            var (name, input) = message.EntityOperationCalled is { } call
                ? (call.Operation, call.Input)
                : (message.EntityOperationSignaled.Operation, message.EntityOperationSignaled.Input);
            var before = state.Serialized;
            var actions = context.Checkpoint();
            var started = Timestamp.FromDateTime(_time.GetUtcNow().UtcDateTime);
            try
            {
                var output = await entity!.RunAsync(new TaskEntityOperation(name, input, context, state, _converter)).ConfigureAwait(false);
                result.Results.Add(new OperationResult
                {
                    Success = new OperationResultSuccess
                    {
                        Result = _converter.Serialize(output),
                        StartTimeUtc = started,
                        EndTimeUtc = Timestamp.FromDateTime(_time.GetUtcNow().UtcDateTime),
                    },
                });
            }
            catch (Exception ex)
            {
                state.Serialized = before;
                context.Rollback(actions);
                result.Results.Add(new OperationResult
                {
                    Failure = new OperationResultFailure
                    {
                        FailureDetails = FailureDetails.FromException(ex).ToProto(),
                        StartTimeUtc = started,
                        EndTimeUtc = Timestamp.FromDateTime(_time.GetUtcNow().UtcDateTime),
                    },
                });
            }
        }

        result.EntityState = state.Serialized;
        result.Actions.AddRange(context.Actions);
        return result;
    }
}
