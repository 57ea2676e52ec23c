using Microsoft.Extensions.Logging;

namespace KataWorkflows.Engine;

/// <summary>Every log message of the engine, with stable event ids (1000-1999).</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "Store {Store} opened: {ActiveInstances} active instances, {Messages} inbox messages, {Activities} scheduled activities recovered")]
    public static partial void StoreOpened(ILogger logger, string store, int activeInstances, int messages, int activities);

    [LoggerMessage(1002, LogLevel.Warning, "Lease on a work item of {InstanceId} expired; the work goes to the next worker")]
    public static partial void LeaseExpired(ILogger logger, string instanceId);

    [LoggerMessage(1003, LogLevel.Warning, "Clean-up of consumed rows failed; they are removed at the next start")]
    public static partial void CleanupFailed(ILogger logger, Exception exception);

    [LoggerMessage(1004, LogLevel.Debug, "Message {EventType} for {InstanceId} dropped: the receiver does not run")]
    public static partial void MessageDropped(ILogger logger, string instanceId, string eventType);

    [LoggerMessage(1005, LogLevel.Information, "Lock request on {EntityId} dropped: {InstanceId} no longer runs")]
    public static partial void LockRequestDropped(ILogger logger, string entityId, string instanceId);

    [LoggerMessage(1010, LogLevel.Information, "Worker {WorkerId} started (orchestrations {OrchestrationConcurrency}, activities {ActivityConcurrency}, entities {EntityConcurrency})")]
    public static partial void WorkerStarted(ILogger logger, string workerId, int orchestrationConcurrency, int activityConcurrency, int entityConcurrency);

    [LoggerMessage(1011, LogLevel.Information, "Worker {WorkerId} stopped")]
    public static partial void WorkerStopped(ILogger logger, string workerId);

    [LoggerMessage(1012, LogLevel.Error, "Dispatching {Kind} work failed; retrying")]
    public static partial void DispatchFailed(ILogger logger, string kind, Exception exception);

    [LoggerMessage(1013, LogLevel.Debug, "Orchestration {InstanceId} episode: {NewEvents} new events, {Actions} actions, status {Status}")]
    public static partial void EpisodeCompleted(ILogger logger, string instanceId, int newEvents, int actions, string status);

    [LoggerMessage(1014, LogLevel.Warning, "Orchestration {InstanceId} episode failed and was abandoned")]
    public static partial void EpisodeAbandoned(ILogger logger, string instanceId, Exception exception);

    [LoggerMessage(1015, LogLevel.Debug, "Activity {Name} #{TaskId} of {InstanceId} finished: {Outcome}")]
    public static partial void ActivityFinished(ILogger logger, string instanceId, string name, int taskId, string outcome);

    [LoggerMessage(1016, LogLevel.Information, "Activity {Name} #{TaskId} of {InstanceId} was interrupted by shutdown; it runs again later")]
    public static partial void ActivityInterrupted(ILogger logger, string instanceId, string name, int taskId);

    [LoggerMessage(1017, LogLevel.Warning, "Work item of {InstanceId} lost its lease; its result was discarded")]
    public static partial void LeaseLost(ILogger logger, string instanceId);

    [LoggerMessage(1018, LogLevel.Warning, "Orchestration {InstanceId} failed: {ErrorType}: {ErrorMessage}")]
    public static partial void OrchestrationFailed(ILogger logger, string instanceId, string errorType, string errorMessage);

    [LoggerMessage(1019, LogLevel.Warning, "Entity batch of {EntityId} failed and was abandoned")]
    public static partial void EntityBatchAbandoned(ILogger logger, string entityId, Exception exception);
}
