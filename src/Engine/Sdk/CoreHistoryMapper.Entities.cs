using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using CoreHistory = DurableTask.Core.History;
using P = Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Sdk;

public sealed partial class CoreHistoryMapper
{
    /// <summary>Core's event name for an operation request or lock request.</summary>
    internal const string RequestEventName = "op";

    /// <summary>Core's event name for a critical-section release.</summary>
    internal const string ReleaseEventName = "release";

    private const string ScheduledRequestPrefix = "op@";

    /// <summary>True for an id of the form <c>@name@key</c>.</summary>
    internal static bool IsEntityInstanceId([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? instanceId) =>
        instanceId is { Length: > 2 } && instanceId[0] == '@' && instanceId.IndexOf('@', 1) > 0;

    /// <summary>The explicit entity events in the legacy encoding Core's executor understands.</summary>
    private CoreHistory.HistoryEvent EntityToCore(P.HistoryEvent historyEvent, DateTime episodeTime)
    {
        var id = historyEvent.EventId;
        var target = historyEvent.EventTypeCase switch
        {
            P.HistoryEvent.EventTypeOneofCase.EntityOperationSignaled => historyEvent.EntityOperationSignaled.TargetInstanceId,
            P.HistoryEvent.EventTypeOneofCase.EntityOperationCalled => historyEvent.EntityOperationCalled.TargetInstanceId,
            P.HistoryEvent.EventTypeOneofCase.EntityUnlockSent => historyEvent.EntityUnlockSent.TargetInstanceId,
            _ => null,
        };
        var needsTarget = historyEvent.EventTypeCase is P.HistoryEvent.EventTypeOneofCase.EntityOperationSignaled
            or P.HistoryEvent.EventTypeOneofCase.EntityOperationCalled
            or P.HistoryEvent.EventTypeOneofCase.EntityUnlockSent;
        if (needsTarget && string.IsNullOrEmpty(target))
        {
            // The message form, as delivered to an entity's inbox, belongs to entity batches, not to orchestration history.
            throw new ArgumentException(
                $"History event {id} ({historyEvent.EventTypeCase}) has no target entity: it is an entity's inbox message, not an event of an orchestration's history.",
                nameof(historyEvent));
        }

        if (needsTarget && !IsEntityInstanceId(target))
        {
            throw new ArgumentException($"History event {id} ({historyEvent.EventTypeCase}) targets '{target}', which is not an entity id (@name@key).", nameof(historyEvent));
        }

        switch (historyEvent.EventTypeCase)
        {
            case P.HistoryEvent.EventTypeOneofCase.EntityOperationSignaled:
            {
                var signal = historyEvent.EntityOperationSignaled;
                var due = signal.ScheduledTime?.ToDateTime();
                return new CoreHistory.EventSentEvent(id)
                {
                    InstanceId = signal.TargetInstanceId,
                    Name = RequestName(due, episodeTime),
                    Input = EntityMessageJson.WriteRequest(new EntityRequestMessage
                    {
                        Operation = signal.Operation,
                        IsSignal = true,
                        Input = signal.Input,
                        Id = signal.RequestId,
                        ScheduledTime = due,
                    }),
                };
            }

            case P.HistoryEvent.EventTypeOneofCase.EntityOperationCalled:
            {
                var call = historyEvent.EntityOperationCalled;
                var due = call.ScheduledTime?.ToDateTime();
                return new CoreHistory.EventSentEvent(id)
                {
                    InstanceId = call.TargetInstanceId,
                    Name = RequestName(due, episodeTime),
                    Input = EntityMessageJson.WriteRequest(new EntityRequestMessage
                    {
                        Operation = call.Operation,
                        Input = call.Input,
                        Id = call.RequestId,
                        ParentInstanceId = call.ParentInstanceId,
                        ParentExecutionId = call.ParentExecutionId,
                        ScheduledTime = due,
                    }),
                };
            }

            case P.HistoryEvent.EventTypeOneofCase.EntityLockRequested:
            {
                var request = historyEvent.EntityLockRequested;
                if (request.Position < 0 || request.Position >= request.LockSet.Count)
                {
                    throw new ArgumentException(
                        $"History event {id} requests a lock at position {request.Position} of a lock set of {request.LockSet.Count} entities.", nameof(historyEvent));
                }

                return new CoreHistory.EventSentEvent(id)
                {
                    // The request goes to the entity at its position in the lock set, as the store sends it.
                    InstanceId = request.LockSet[request.Position],
                    Name = RequestEventName,
                    Input = EntityMessageJson.WriteRequest(new EntityRequestMessage
                    {
                        Id = request.CriticalSectionId,
                        ParentInstanceId = request.ParentInstanceId,
                        LockSet = request.LockSet,
                        Position = request.Position,
                    }),
                };
            }

            case P.HistoryEvent.EventTypeOneofCase.EntityUnlockSent:
            {
                var unlock = historyEvent.EntityUnlockSent;
                return new CoreHistory.EventSentEvent(id)
                {
                    InstanceId = unlock.TargetInstanceId,
                    Name = ReleaseEventName,
                    Input = EntityMessageJson.WriteRelease(unlock.ParentInstanceId, unlock.CriticalSectionId),
                };
            }

            case P.HistoryEvent.EventTypeOneofCase.EntityOperationCompleted:
            {
                var completed = historyEvent.EntityOperationCompleted;
                var json = EntityMessageJson.WriteResponse(new EntityResponseMessage(completed.Output, null, null));
                return new EntityResponseRaisedEvent(id, json, EntityResponseKind.OperationCompleted) { Name = completed.RequestId };
            }

            case P.HistoryEvent.EventTypeOneofCase.EntityOperationFailed:
            {
                var failed = historyEvent.EntityOperationFailed;
                var failure = failed.FailureDetails ?? new P.TaskFailureDetails { ErrorType = "EntityOperationFailed", ErrorMessage = "The entity operation failed." };
                var json = EntityMessageJson.WriteResponse(new EntityResponseMessage(failure.ErrorMessage, failure.ErrorType, failed.FailureDetails));
                return new EntityResponseRaisedEvent(id, json, EntityResponseKind.OperationFailed) { Name = failed.RequestId };
            }

            case P.HistoryEvent.EventTypeOneofCase.EntityLockGranted:
            {
                var granted = historyEvent.EntityLockGranted;
                var json = EntityMessageJson.WriteResponse(new EntityResponseMessage(EntityResponseMessage.LockAcquisitionCompleted, null, null));
                return new EntityResponseRaisedEvent(id, json, EntityResponseKind.LockGranted) { Name = granted.CriticalSectionId };
            }

            default:
                throw new ArgumentException($"History event {id} ({historyEvent.EventTypeCase}) is not an entity event.", nameof(historyEvent));
        }
    }

    /// <summary>
    /// Recognises Core's legacy entity message (an event sent to <c>@name@key</c> named <c>op</c>, <c>op@time</c> or
    /// <c>release</c>) and writes it into <paramref name="target"/> as the protocol's explicit entity event.
    /// </summary>
    private static bool TryEntityMessageToProtocol(string? instanceId, string? eventName, string? input, P.HistoryEvent target)
    {
        if (!IsEntityInstanceId(instanceId) || eventName is null)
        {
            return false;
        }

        if (string.Equals(eventName, ReleaseEventName, StringComparison.Ordinal))
        {
            var (parent, sectionId) = EntityMessageJson.ReadRelease(RequireInput(instanceId!, eventName, input));
            target.EntityUnlockSent = new P.EntityUnlockSentEvent { CriticalSectionId = sectionId, ParentInstanceId = parent, TargetInstanceId = instanceId };
            return true;
        }

        if (!string.Equals(eventName, RequestEventName, StringComparison.Ordinal) && !eventName.StartsWith(ScheduledRequestPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var request = EntityMessageJson.ReadRequest(RequireInput(instanceId!, eventName, input));
        if (request.LockSet is { } lockSet)
        {
            if (request.Position < 0 || request.Position >= lockSet.Count || !string.Equals(lockSet[request.Position], instanceId, StringComparison.Ordinal))
            {
                throw new ArgumentException(
                    $"A lock request sent to {instanceId} names position {request.Position} of the lock set [{string.Join(", ", lockSet)}], which is not that entity.");
            }

            var lockRequest = new P.EntityLockRequestedEvent { CriticalSectionId = request.Id, Position = request.Position, ParentInstanceId = request.ParentInstanceId };
            lockRequest.LockSet.Add(lockSet);
            target.EntityLockRequested = lockRequest;
            return true;
        }

        var operation = request.Operation ?? throw new ArgumentException($"An entity request sent to {instanceId} names no operation.");
        var scheduled = request.ScheduledTime is { } due ? Timestamp.FromDateTime(AsUtc(due)) : null;
        if (request.IsSignal)
        {
            target.EntityOperationSignaled = new P.EntityOperationSignaledEvent
            {
                RequestId = request.Id,
                Operation = operation,
                ScheduledTime = scheduled,
                Input = request.Input,
                TargetInstanceId = instanceId,
            };
        }
        else
        {
            target.EntityOperationCalled = new P.EntityOperationCalledEvent
            {
                RequestId = request.Id,
                Operation = operation,
                ScheduledTime = scheduled,
                Input = request.Input,
                ParentInstanceId = request.ParentInstanceId,
                ParentExecutionId = request.ParentExecutionId,
                TargetInstanceId = instanceId,
            };
        }

        return true;
    }

    private static void EntityResponseToProtocol(EntityResponseRaisedEvent response, P.HistoryEvent target)
    {
        var name = response.Name ?? string.Empty;
        var message = EntityMessageJson.ReadResponse(response.Input ?? "{}");
        switch (response.Kind)
        {
            case EntityResponseKind.LockGranted:
                target.EntityLockGranted = new P.EntityLockGrantedEvent { CriticalSectionId = name };
                break;
            case EntityResponseKind.OperationFailed:
                target.EntityOperationFailed = new P.EntityOperationFailedEvent
                {
                    RequestId = name,
                    FailureDetails = message.FailureDetails ?? new P.TaskFailureDetails { ErrorType = message.ErrorType ?? string.Empty, ErrorMessage = message.Result ?? string.Empty },
                };
                break;
            default:
                target.EntityOperationCompleted = new P.EntityOperationCompletedEvent { RequestId = name, Output = message.Result };
                break;
        }
    }

    /// <summary>
    /// The name Core gives a request: <c>op</c>, or for a scheduled one <c>op@</c> and the delivery time capped at
    /// the episode's time plus the maximum timer interval (the SDK's <c>GetCappedScheduledTime</c>).
    /// </summary>
    private string RequestName(DateTime? due, DateTime episodeTime)
    {
        if (due is not { } scheduled)
        {
            return RequestEventName;
        }

        var capped = scheduled - episodeTime <= MaximumTimerInterval ? scheduled : episodeTime + MaximumTimerInterval;
        return ScheduledRequestPrefix + capped.ToString("o", CultureInfo.InvariantCulture);
    }

    private static string RequireInput(string instanceId, string eventName, string? input) =>
        input ?? throw new ArgumentException($"The entity message '{eventName}' sent to {instanceId} has no content.");
}
