using P = Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Sdk;

/// <summary>What one orchestration episode run through the SDK produced, in protocol terms.</summary>
/// <param name="Actions">The episode's actions, ids as the SDK numbered them.</param>
/// <param name="CustomStatus">The serialized custom status the code set (null if none).</param>
/// <param name="NonDeterminism">Set when replay found the code disagreeing with its history.</param>
/// <param name="Replayed">True when the past events were replayed; false when an extended session ran only the new ones.</param>
public sealed record SdkEpisodeResult(
    IReadOnlyList<P.OrchestratorAction> Actions,
    string? CustomStatus,
    SdkNonDeterminism? NonDeterminism,
    bool Replayed)
{
    /// <summary>The completion action, if the episode ended the execution (completed, failed or continued as new).</summary>
    public P.CompleteOrchestrationAction? Completion =>
        Actions.LastOrDefault(a => a.OrchestratorActionTypeCase == P.OrchestratorAction.OrchestratorActionTypeOneofCase.CompleteOrchestration)?.CompleteOrchestration;

    /// <summary>The episode as the sidecar protocol's response to an orchestrator work item.</summary>
    public P.OrchestratorResponse ToResponse(string instanceId, string? completionToken = null)
    {
        var response = new P.OrchestratorResponse { InstanceId = instanceId, CustomStatus = CustomStatus, CompletionToken = completionToken ?? string.Empty };
        response.Actions.AddRange(Actions);
        return response;
    }
}

/// <summary>
/// A replay that did not match its history: the event at <paramref name="EventIndex"/> (counted over the past and
/// then the new events of the episode) was <paramref name="Recorded"/>, and the code did what
/// <paramref name="Message"/> (DurableTask.Core's own words) says instead.
/// </summary>
public sealed record SdkNonDeterminism(int EventIndex, P.HistoryEvent? Recorded, string Message)
{
    /// <summary>A short description of the recorded event: its kind, sequence number and name.</summary>
    public string RecordedDescription => Recorded is null ? "(no event)" : Describe(Recorded);

    /// <inheritdoc/>
    public override string ToString() => $"event {EventIndex} recorded {RecordedDescription}; {Message}";

    internal static string Describe(P.OrchestratorAction a)
    {
        var name = a.OrchestratorActionTypeCase switch
        {
            P.OrchestratorAction.OrchestratorActionTypeOneofCase.ScheduleTask => a.ScheduleTask.Name,
            P.OrchestratorAction.OrchestratorActionTypeOneofCase.CreateSubOrchestration => a.CreateSubOrchestration.Name,
            P.OrchestratorAction.OrchestratorActionTypeOneofCase.SendEvent => a.SendEvent.Name,
            P.OrchestratorAction.OrchestratorActionTypeOneofCase.SendEntityMessage => a.SendEntityMessage.EntityMessageTypeCase.ToString(),
            P.OrchestratorAction.OrchestratorActionTypeOneofCase.CreateTimer => a.CreateTimer.FireAt?.ToDateTime().ToString("o", System.Globalization.CultureInfo.InvariantCulture),
            _ => null,
        };
        return name is null ? $"{a.OrchestratorActionTypeCase} #{a.Id}" : $"{a.OrchestratorActionTypeCase} #{a.Id} '{name}'";
    }

    internal static string Describe(P.HistoryEvent e)
    {
        var name = e.EventTypeCase switch
        {
            P.HistoryEvent.EventTypeOneofCase.TaskScheduled => e.TaskScheduled.Name,
            P.HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceCreated => e.SubOrchestrationInstanceCreated.Name,
            P.HistoryEvent.EventTypeOneofCase.EventSent => e.EventSent.Name,
            P.HistoryEvent.EventTypeOneofCase.EventRaised => e.EventRaised.Name,
            P.HistoryEvent.EventTypeOneofCase.EntityOperationCalled => $"{e.EntityOperationCalled.TargetInstanceId}.{e.EntityOperationCalled.Operation}",
            P.HistoryEvent.EventTypeOneofCase.EntityOperationSignaled => $"{e.EntityOperationSignaled.TargetInstanceId}.{e.EntityOperationSignaled.Operation}",
            P.HistoryEvent.EventTypeOneofCase.EntityLockRequested => string.Join(",", e.EntityLockRequested.LockSet),
            P.HistoryEvent.EventTypeOneofCase.EntityUnlockSent => e.EntityUnlockSent.TargetInstanceId,
            P.HistoryEvent.EventTypeOneofCase.TimerCreated => e.TimerCreated.FireAt?.ToDateTime().ToString("o", System.Globalization.CultureInfo.InvariantCulture),
            _ => null,
        };
        return name is null ? $"{e.EventTypeCase} #{e.EventId}" : $"{e.EventTypeCase} #{e.EventId} '{name}'";
    }
}
