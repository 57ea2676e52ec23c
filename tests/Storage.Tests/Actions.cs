using Google.Protobuf.WellKnownTypes;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Storage.Tests;

/// <summary>The orchestrator actions the conformance cases put in their responses, built the way an SDK sends them.</summary>
public static class Actions
{
    /// <summary>Schedules an activity.</summary>
    public static OrchestratorAction ScheduleTask(int id, string name, string? input) =>
        new() { Id = id, ScheduleTask = new ScheduleTaskAction { Name = name, Input = input } };

    /// <summary>Creates a durable timer.</summary>
    public static OrchestratorAction CreateTimer(int id, DateTime fireAt) =>
        new() { Id = id, CreateTimer = new CreateTimerAction { FireAt = Timestamp.FromDateTime(fireAt) } };

    /// <summary>Raises an event on another instance.</summary>
    public static OrchestratorAction SendEvent(int id, string instanceId, string name, string? data) =>
        new() { Id = id, SendEvent = new SendEventAction { Instance = new OrchestrationInstance { InstanceId = instanceId }, Name = name, Data = data } };

    /// <summary>Starts a sub-orchestration.</summary>
    public static OrchestratorAction CreateSubOrchestration(int id, string instanceId, string name, string? input) =>
        new() { Id = id, CreateSubOrchestration = new CreateSubOrchestrationAction { InstanceId = instanceId, Name = name, Input = input } };

    /// <summary>Completes the orchestration with an output.</summary>
    public static OrchestratorAction Complete(int id, string? result) =>
        new() { Id = id, CompleteOrchestration = new CompleteOrchestrationAction { OrchestrationStatus = OrchestrationStatus.Completed, Result = result } };

    /// <summary>Continues as new with a new input.</summary>
    public static OrchestratorAction ContinueAsNew(int id, string? input) =>
        new() { Id = id, CompleteOrchestration = new CompleteOrchestrationAction { OrchestrationStatus = OrchestrationStatus.ContinuedAsNew, Result = input } };

    /// <summary>Asks for the locks of a critical section (the lock set is sorted, as the SDKs send it).</summary>
    public static OrchestratorAction LockEntities(int id, string criticalSectionId, params string[] entities)
    {
        var request = new EntityLockRequestedEvent { CriticalSectionId = criticalSectionId, Position = 0 };
        request.LockSet.AddRange(entities.Order(StringComparer.Ordinal));
        return new() { Id = id, SendEntityMessage = new SendEntityMessageAction { EntityLockRequested = request } };
    }

    /// <summary>Releases a critical section's lock on one entity.</summary>
    public static OrchestratorAction UnlockEntity(int id, string criticalSectionId, string entity) =>
        new()
        {
            Id = id,
            SendEntityMessage = new SendEntityMessageAction
            {
                EntityUnlockSent = new EntityUnlockSentEvent { CriticalSectionId = criticalSectionId, TargetInstanceId = entity },
            },
        };

    /// <summary>Calls an entity operation and waits for its response.</summary>
    public static OrchestratorAction CallEntity(int id, string entity, string operation, string requestId, string? input = null) =>
        new()
        {
            Id = id,
            SendEntityMessage = new SendEntityMessageAction
            {
                EntityOperationCalled = new EntityOperationCalledEvent { RequestId = requestId, Operation = operation, Input = input, TargetInstanceId = entity },
            },
        };

    /// <summary>Signals an entity operation (no response).</summary>
    public static OrchestratorAction SignalEntity(int id, string entity, string operation, string? input = null) =>
        new()
        {
            Id = id,
            SendEntityMessage = new SendEntityMessageAction
            {
                EntityOperationSignaled = new EntityOperationSignaledEvent
                {
                    RequestId = Guid.NewGuid().ToString("N"),
                    Operation = operation,
                    Input = input,
                    TargetInstanceId = entity,
                },
            },
        };
}
