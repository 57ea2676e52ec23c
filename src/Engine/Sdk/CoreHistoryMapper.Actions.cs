using Google.Protobuf.WellKnownTypes;
using CoreCommand = DurableTask.Core.Command;
using P = Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Sdk;

public sealed partial class CoreHistoryMapper
{
    /// <summary>Converts the actions of one episode.</summary>
    public static List<P.OrchestratorAction> ToProtocol(IEnumerable<CoreCommand.OrchestratorAction> actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        var converted = new List<P.OrchestratorAction>();
        foreach (var action in actions)
        {
            converted.Add(ToProtocol(action));
        }

        return converted;
    }

    /// <summary>Converts one of Core's orchestrator actions to the protocol's; the action id is kept.</summary>
    public static P.OrchestratorAction ToProtocol(CoreCommand.OrchestratorAction action)
    {
        ArgumentNullException.ThrowIfNull(action);
        var p = new P.OrchestratorAction { Id = action.Id };
        switch (action)
        {
            case CoreCommand.ScheduleTaskOrchestratorAction schedule:
                p.ScheduleTask = new P.ScheduleTaskAction
                {
                    Name = schedule.Name ?? string.Empty,
                    Version = schedule.Version,
                    Input = UnwrapActivityInput(schedule.Input),
                };
                AddTags(p.ScheduleTask.Tags, schedule.Tags);
                break;
            case CoreCommand.CreateSubOrchestrationAction sub:
                p.CreateSubOrchestration = new P.CreateSubOrchestrationAction
                {
                    InstanceId = sub.InstanceId ?? string.Empty,
                    Name = sub.Name ?? string.Empty,
                    Version = sub.Version,
                    Input = sub.Input,
                };
                AddTags(p.CreateSubOrchestration.Tags, sub.Tags);
                break;
            case CoreCommand.CreateTimerOrchestratorAction timer:
                p.CreateTimer = new P.CreateTimerAction { FireAt = Timestamp.FromDateTime(AsUtc(timer.FireAt)) };
                break;
            case CoreCommand.SendEventOrchestratorAction send:
            {
                var message = new P.HistoryEvent();
                if (TryEntityMessageToProtocol(send.Instance?.InstanceId, send.EventName, send.EventData, message))
                {
                    p.SendEntityMessage = message.EventTypeCase switch
                    {
                        P.HistoryEvent.EventTypeOneofCase.EntityOperationSignaled => new P.SendEntityMessageAction { EntityOperationSignaled = message.EntityOperationSignaled },
                        P.HistoryEvent.EventTypeOneofCase.EntityOperationCalled => new P.SendEntityMessageAction { EntityOperationCalled = message.EntityOperationCalled },
                        P.HistoryEvent.EventTypeOneofCase.EntityLockRequested => new P.SendEntityMessageAction { EntityLockRequested = message.EntityLockRequested },
                        _ => new P.SendEntityMessageAction { EntityUnlockSent = message.EntityUnlockSent },
                    };
                }
                else
                {
                    p.SendEvent = new P.SendEventAction
                    {
                        Instance = ToProtocol(send.Instance),
                        Name = send.EventName ?? string.Empty,
                        Data = send.EventData,
                    };
                }

                break;
            }

            case CoreCommand.OrchestrationCompleteOrchestratorAction complete:
                p.CompleteOrchestration = new P.CompleteOrchestrationAction
                {
                    OrchestrationStatus = (P.OrchestrationStatus)complete.OrchestrationStatus,
                    Result = complete.Result,
                    Details = complete.Details,
                    NewVersion = complete.NewVersion,
                    FailureDetails = ToProtocol(complete.FailureDetails),
                };
                foreach (var carried in complete.CarryoverEvents)
                {
                    p.CompleteOrchestration.CarryoverEvents.Add(ToProtocol(carried));
                }

                AddTags(p.CompleteOrchestration.Tags, complete.Tags);
                break;
            case CoreCommand.RewindOrchestrationAction:
                p.RewindOrchestration = new P.RewindOrchestrationAction();
                break;
            default:
                throw new ArgumentException($"DurableTask.Core action {action.OrchestratorActionType} ({action.GetType().Name}) has no protocol form.", nameof(action));
        }

        return p;
    }

    /// <summary>
    /// The SDK's <c>CallActivityAsync</c> goes through Core's <c>ScheduleTask(params object[])</c>, so its input is a
    /// one-element JSON array (<c>["x"]</c>). The protocol carries the value itself, as every other SDK sends it;
    /// the activity runner wraps it again for the SDK's activity shim, which strips the brackets.
    /// </summary>
    internal static string? UnwrapActivityInput(string? input)
    {
        if (input is null)
        {
            return null;
        }

        var span = input.AsSpan().Trim();
        if (span.Length < 2 || span[0] != '[' || span[^1] != ']')
        {
            return input;
        }

        var inner = span[1..^1].Trim();
        if (inner.Length == 0 || inner.SequenceEqual("null"))
        {
            return null;
        }

        return inner.ToString();
    }

    /// <summary>The activity shim's form of a protocol input (see <see cref="UnwrapActivityInput"/>).</summary>
    internal static string? WrapActivityInput(string? input) => input is null ? null : string.Concat("[", input, "]");
}
