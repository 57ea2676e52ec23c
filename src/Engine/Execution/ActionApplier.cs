using Google.Protobuf.WellKnownTypes;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Execution;

/// <summary>
/// Turns the actions of one episode into a checkpoint: the history events that record them, the instance's
/// new row, and the work handed on (activities, timers, messages, sub-orchestrations). It runs on the store's
/// side of the protocol, so actions from the in-process executor and from remote SDK workers are recorded the
/// same way.
/// </summary>
public static class ActionApplier
{
    /// <summary>The events that open an episode: <c>OrchestratorStarted</c> (the episode's time) and the work item's messages.</summary>
    public static List<HistoryEvent> OpenEpisode(OrchestrationWorkItem workItem, DateTime now)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        var events = new List<HistoryEvent>(workItem.NewMessages.Count + 1)
        {
            new() { EventId = -1, Timestamp = Timestamp.FromDateTime(now), OrchestratorStarted = new OrchestratorStartedEvent() },
        };
        events.AddRange(workItem.NewMessages);
        return events;
    }

    /// <summary>
    /// When the work item carries a terminate message, terminates the instance without running its code (the
    /// code may be broken or gone): releases its locks, terminates its children when asked, tells its parent.
    /// </summary>
    public static bool TryTerminate(OrchestrationWorkItem workItem, DateTime now, out OrchestrationCheckpoint? checkpoint)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        var terminate = workItem.NewMessages.FirstOrDefault(m => m.ExecutionTerminated is not null);
        if (terminate is null)
        {
            checkpoint = null;
            return false;
        }

        var reason = terminate.ExecutionTerminated.Input;
        checkpoint = new OrchestrationCheckpoint
        {
            Metadata = workItem.Metadata with
            {
                Status = OrchestrationRuntimeStatus.Terminated,
                SerializedOutput = reason,
                LastUpdatedAt = now,
                CompletedAt = now,
            },
        };
        var history = checkpoint.NewHistory;
        history.Add(new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(now), OrchestratorStarted = new OrchestratorStartedEvent() });
        if (workItem.NewMessages.FirstOrDefault(m => m.ExecutionStarted is not null) is { } started)
        {
            history.Add(started);
        }

        history.Add(terminate);
        var past = workItem.PastEvents;
        foreach (var (sectionId, entity) in HeldLocks(past))
        {
            var unlock = new EntityUnlockSentEvent { CriticalSectionId = sectionId, ParentInstanceId = workItem.InstanceId, TargetInstanceId = entity };
            history.Add(new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(now), EntityUnlockSent = unlock.Clone() });
            checkpoint.OutboundMessages.Add(new OutboundMessage(entity, new HistoryEvent
            {
                EventId = -1,
                Timestamp = Timestamp.FromDateTime(now),
                EntityUnlockSent = new EntityUnlockSentEvent { CriticalSectionId = sectionId, ParentInstanceId = workItem.InstanceId },
            }));
        }

        if (terminate.ExecutionTerminated.Recurse)
        {
            foreach (var child in RunningChildren(past))
            {
                checkpoint.OutboundMessages.Add(new OutboundMessage(child, new HistoryEvent
                {
                    EventId = -1,
                    Timestamp = Timestamp.FromDateTime(now),
                    ExecutionTerminated = new ExecutionTerminatedEvent { Input = reason, Recurse = true },
                }));
            }
        }

        history.Add(new HistoryEvent
        {
            EventId = -1,
            Timestamp = Timestamp.FromDateTime(now),
            ExecutionCompleted = new ExecutionCompletedEvent { OrchestrationStatus = OrchestrationStatus.Terminated, Result = reason },
        });
        history.Add(new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(now), OrchestratorCompleted = new OrchestratorCompletedEvent() });
        NotifyParent(workItem, checkpoint, OrchestrationStatus.Terminated, reason, failure: null, now);
        return true;
    }

    /// <summary>Builds the checkpoint of an episode from the events it opened with and the actions the code produced.</summary>
    /// <exception cref="InvalidOperationException">The response carries an action this engine does not support.</exception>
    public static OrchestrationCheckpoint Apply(OrchestrationWorkItem workItem, IReadOnlyList<HistoryEvent> episodeEvents, OrchestratorResponse response, DateTime now)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        ArgumentNullException.ThrowIfNull(episodeEvents);
        ArgumentNullException.ThrowIfNull(response);
        var metadata = workItem.Metadata;
        var started = FindExecutionStarted(workItem);
        var status = metadata.Status == OrchestrationRuntimeStatus.Pending && started is not null ? OrchestrationRuntimeStatus.Running : metadata.Status;
        foreach (var e in episodeEvents)
        {
            if (e.ExecutionSuspended is not null)
            {
                status = OrchestrationRuntimeStatus.Suspended;
            }
            else if (e.ExecutionResumed is not null)
            {
                status = OrchestrationRuntimeStatus.Running;
            }
        }

        var history = new List<HistoryEvent>(episodeEvents);
        var activities = new List<ActivityRequest>();
        var selfMessages = new List<OutboundMessage>();
        var outbound = new List<OutboundMessage>();
        var children = new List<ChildInstance>();
        CompleteOrchestrationAction? completion = null;
        var stamp = Timestamp.FromDateTime(now);
        foreach (var action in response.Actions)
        {
            switch (action.OrchestratorActionTypeCase)
            {
                case OrchestratorAction.OrchestratorActionTypeOneofCase.ScheduleTask:
                {
                    var task = action.ScheduleTask;
                    var scheduled = new TaskScheduledEvent { Name = task.Name, Version = task.Version, Input = task.Input, ParentTraceContext = task.ParentTraceContext };
                    scheduled.Tags.Add(task.Tags);
                    history.Add(new HistoryEvent { EventId = action.Id, Timestamp = stamp, TaskScheduled = scheduled });
                    var request = new ActivityRequest
                    {
                        Name = task.Name,
                        Version = task.Version,
                        Input = task.Input,
                        TaskId = action.Id,
                        OrchestrationInstance = new OrchestrationInstance { InstanceId = metadata.InstanceId, ExecutionId = metadata.ExecutionId },
                        ParentTraceContext = task.ParentTraceContext,
                    };
                    request.Tags.Add(task.Tags);
                    activities.Add(request);
                    break;
                }

                case OrchestratorAction.OrchestratorActionTypeOneofCase.CreateTimer:
                {
                    var fireAt = action.CreateTimer.FireAt;
                    history.Add(new HistoryEvent { EventId = action.Id, Timestamp = stamp, TimerCreated = new TimerCreatedEvent { FireAt = fireAt } });
                    selfMessages.Add(new OutboundMessage(
                        metadata.InstanceId,
                        new HistoryEvent { EventId = -1, Timestamp = fireAt, TimerFired = new TimerFiredEvent { FireAt = fireAt, TimerId = action.Id } },
                        fireAt.ToDateTime()));
                    break;
                }

                case OrchestratorAction.OrchestratorActionTypeOneofCase.CreateSubOrchestration:
                {
                    var sub = action.CreateSubOrchestration;
                    var created = new SubOrchestrationInstanceCreatedEvent
                    {
                        InstanceId = sub.InstanceId,
                        Name = sub.Name,
                        Version = sub.Version,
                        Input = sub.Input,
                        ParentTraceContext = sub.ParentTraceContext,
                    };
                    created.Tags.Add(sub.Tags);
                    history.Add(new HistoryEvent { EventId = action.Id, Timestamp = stamp, SubOrchestrationInstanceCreated = created });
                    children.Add(NewChild(metadata, action.Id, sub, now));
                    break;
                }

                case OrchestratorAction.OrchestratorActionTypeOneofCase.SendEvent:
                {
                    var send = action.SendEvent;
                    history.Add(new HistoryEvent
                    {
                        EventId = action.Id,
                        Timestamp = stamp,
                        EventSent = new EventSentEvent { InstanceId = send.Instance.InstanceId, Name = send.Name, Input = send.Data },
                    });
                    outbound.Add(new OutboundMessage(
                        send.Instance.InstanceId,
                        new HistoryEvent { EventId = -1, Timestamp = stamp, EventRaised = new EventRaisedEvent { Name = send.Name, Input = send.Data } }));
                    break;
                }

                case OrchestratorAction.OrchestratorActionTypeOneofCase.SendEntityMessage:
                    ApplyEntityMessage(metadata, action, stamp, history, outbound);
                    break;

                case OrchestratorAction.OrchestratorActionTypeOneofCase.TerminateOrchestration:
                {
                    var terminate = action.TerminateOrchestration;
                    outbound.Add(new OutboundMessage(
                        terminate.InstanceId,
                        new HistoryEvent
                        {
                            EventId = -1,
                            Timestamp = stamp,
                            ExecutionTerminated = new ExecutionTerminatedEvent { Input = terminate.Reason, Recurse = terminate.Recurse },
                        }));
                    break;
                }

                case OrchestratorAction.OrchestratorActionTypeOneofCase.CompleteOrchestration:
                    completion = action.CompleteOrchestration;
                    break;

                default:
                    throw new InvalidOperationException(
                        $"Orchestration '{metadata.InstanceId}' returned a {action.OrchestratorActionTypeCase} action, which this engine does not support.");
            }
        }

        var customStatus = response.CustomStatus ?? metadata.SerializedCustomStatus;
        if (completion is null)
        {
            history.Add(new HistoryEvent { EventId = -1, Timestamp = stamp, OrchestratorCompleted = new OrchestratorCompletedEvent() });
            var checkpoint = new OrchestrationCheckpoint
            {
                Metadata = metadata with { Status = status, LastUpdatedAt = now, SerializedCustomStatus = customStatus },
            };
            checkpoint.NewHistory.AddRange(history);
            checkpoint.Activities.AddRange(activities);
            checkpoint.SelfMessages.AddRange(selfMessages);
            checkpoint.OutboundMessages.AddRange(outbound);
            checkpoint.NewChildren.AddRange(children);
            return checkpoint;
        }

        if (completion.OrchestrationStatus == OrchestrationStatus.ContinuedAsNew)
        {
            return ContinueAsNew(workItem, started, completion, outbound, customStatus, now);
        }

        var final = completion.OrchestrationStatus.FromProto();
        history.Add(new HistoryEvent
        {
            EventId = -1,
            Timestamp = stamp,
            ExecutionCompleted = new ExecutionCompletedEvent
            {
                OrchestrationStatus = completion.OrchestrationStatus,
                Result = completion.Result,
                FailureDetails = completion.FailureDetails,
            },
        });
        history.Add(new HistoryEvent { EventId = -1, Timestamp = stamp, OrchestratorCompleted = new OrchestratorCompletedEvent() });
        var done = new OrchestrationCheckpoint
        {
            Metadata = metadata with
            {
                Status = final,
                SerializedOutput = completion.Result,
                FailureDetails = FailureDetails.FromProto(completion.FailureDetails),
                SerializedCustomStatus = customStatus,
                LastUpdatedAt = now,
                CompletedAt = now,
            },
        };
        done.NewHistory.AddRange(history);
        done.OutboundMessages.AddRange(outbound);
        NotifyParent(workItem, done, completion.OrchestrationStatus, completion.Result, completion.FailureDetails, now);
        return done;
    }

    private static OrchestrationCheckpoint ContinueAsNew(
        OrchestrationWorkItem workItem, ExecutionStartedEvent? started, CompleteOrchestrationAction completion, List<OutboundMessage> outbound, string? customStatus, DateTime now)
    {
        var metadata = workItem.Metadata;
        var executionId = Guid.NewGuid().ToString("N");
        var version = completion.NewVersion ?? metadata.Version;
        var restart = new ExecutionStartedEvent
        {
            Name = metadata.Name,
            Version = version,
            Input = completion.Result,
            OrchestrationInstance = new OrchestrationInstance { InstanceId = metadata.InstanceId, ExecutionId = executionId },
            ParentInstance = started?.ParentInstance,
            ParentTraceContext = started?.ParentTraceContext,
        };
        foreach (var tag in metadata.Tags)
        {
            restart.Tags[tag.Key] = tag.Value;
        }
        var checkpoint = new OrchestrationCheckpoint
        {
            StartsNewExecution = true,
            Metadata = metadata with
            {
                ExecutionId = executionId,
                Version = version,
                Status = OrchestrationRuntimeStatus.Running,
                SerializedInput = completion.Result,
                SerializedOutput = null,
                FailureDetails = null,
                SerializedCustomStatus = customStatus,
                LastUpdatedAt = now,
            },
        };
        checkpoint.SelfMessages.Add(new OutboundMessage(
            metadata.InstanceId, new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(now), ExecutionStarted = restart }));
        foreach (var carried in completion.CarryoverEvents)
        {
            checkpoint.SelfMessages.Add(new OutboundMessage(metadata.InstanceId, carried));
        }

        // Messages the old execution sent (events, lock releases) still go out; its pending tasks die with it.
        checkpoint.OutboundMessages.AddRange(outbound);
        return checkpoint;
    }

    private static void ApplyEntityMessage(OrchestrationMetadata metadata, OrchestratorAction action, Timestamp stamp, List<HistoryEvent> history, List<OutboundMessage> outbound)
    {
        var message = action.SendEntityMessage;
        var recorded = new HistoryEvent { EventId = action.Id, Timestamp = stamp };
        var sent = new HistoryEvent { EventId = -1, Timestamp = stamp };
        string target;
        DateTime? visibleAt = null;
        switch (message.EntityMessageTypeCase)
        {
            case SendEntityMessageAction.EntityMessageTypeOneofCase.EntityOperationSignaled:
            {
                var signal = message.EntityOperationSignaled;
                target = signal.TargetInstanceId;
                recorded.EntityOperationSignaled = signal.Clone();
                sent.EntityOperationSignaled = signal.Clone();
                sent.EntityOperationSignaled.TargetInstanceId = null;
                visibleAt = signal.ScheduledTime?.ToDateTime();
                break;
            }

            case SendEntityMessageAction.EntityMessageTypeOneofCase.EntityOperationCalled:
            {
                var call = message.EntityOperationCalled;
                target = call.TargetInstanceId;
                recorded.EntityOperationCalled = call.Clone();
                recorded.EntityOperationCalled.ParentInstanceId = null;
                recorded.EntityOperationCalled.ParentExecutionId = null;
                sent.EntityOperationCalled = call.Clone();
                sent.EntityOperationCalled.TargetInstanceId = null;
                sent.EntityOperationCalled.ParentInstanceId ??= metadata.InstanceId;
                sent.EntityOperationCalled.ParentExecutionId ??= metadata.ExecutionId;
                break;
            }

            case SendEntityMessageAction.EntityMessageTypeOneofCase.EntityLockRequested:
            {
                var request = message.EntityLockRequested;
                if (request.LockSet.Count == 0)
                {
                    throw new InvalidOperationException($"Orchestration '{metadata.InstanceId}' requested a lock on no entity.");
                }

                target = request.LockSet[request.Position];
                recorded.EntityLockRequested = request.Clone();
                recorded.EntityLockRequested.ParentInstanceId = null;
                sent.EntityLockRequested = request.Clone();
                sent.EntityLockRequested.ParentInstanceId ??= metadata.InstanceId;
                break;
            }

            case SendEntityMessageAction.EntityMessageTypeOneofCase.EntityUnlockSent:
            {
                var unlock = message.EntityUnlockSent;
                target = unlock.TargetInstanceId;
                recorded.EntityUnlockSent = unlock.Clone();
                recorded.EntityUnlockSent.ParentInstanceId = null;
                sent.EntityUnlockSent = unlock.Clone();
                sent.EntityUnlockSent.TargetInstanceId = null;
                sent.EntityUnlockSent.ParentInstanceId ??= metadata.InstanceId;
                break;
            }

            default:
                throw new InvalidOperationException($"Orchestration '{metadata.InstanceId}' sent an empty entity message.");
        }

        if (!EntityInstanceId.IsEntityInstanceId(target))
        {
            throw new InvalidOperationException($"Orchestration '{metadata.InstanceId}' sent an entity message to '{target}', which is not an entity id (@name@key).");
        }

        history.Add(recorded);
        outbound.Add(new OutboundMessage(target, sent, visibleAt));
    }

    private static ChildInstance NewChild(OrchestrationMetadata parent, int taskId, CreateSubOrchestrationAction sub, DateTime now)
    {
        var executionId = Guid.NewGuid().ToString("N");
        var start = new ExecutionStartedEvent
        {
            Name = sub.Name,
            Version = sub.Version,
            Input = sub.Input,
            OrchestrationInstance = new OrchestrationInstance { InstanceId = sub.InstanceId, ExecutionId = executionId },
            ParentInstance = new ParentInstanceInfo
            {
                TaskScheduledId = taskId,
                Name = parent.Name,
                Version = parent.Version,
                OrchestrationInstance = new OrchestrationInstance { InstanceId = parent.InstanceId, ExecutionId = parent.ExecutionId },
            },
            ParentTraceContext = sub.ParentTraceContext,
        };
        start.Tags.Add(sub.Tags);
        var metadata = new OrchestrationMetadata
        {
            InstanceId = sub.InstanceId,
            Name = sub.Name,
            Version = sub.Version,
            ExecutionId = executionId,
            Status = OrchestrationRuntimeStatus.Pending,
            CreatedAt = now,
            LastUpdatedAt = now,
            SerializedInput = sub.Input,
            ParentInstanceId = parent.InstanceId,
            Tags = new Dictionary<string, string>(sub.Tags),
            TraceParent = sub.ParentTraceContext?.TraceParent,
        };
        return new ChildInstance(metadata, new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(now), ExecutionStarted = start });
    }

    private static void NotifyParent(
        OrchestrationWorkItem workItem, OrchestrationCheckpoint checkpoint, OrchestrationStatus status, string? result, TaskFailureDetails? failure, DateTime now)
    {
        if (FindExecutionStarted(workItem)?.ParentInstance is not { } parent)
        {
            return;
        }

        var message = new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(now) };
        if (status == OrchestrationStatus.Completed)
        {
            message.SubOrchestrationInstanceCompleted = new SubOrchestrationInstanceCompletedEvent { TaskScheduledId = parent.TaskScheduledId, Result = result };
        }
        else
        {
            message.SubOrchestrationInstanceFailed = new SubOrchestrationInstanceFailedEvent
            {
                TaskScheduledId = parent.TaskScheduledId,
                FailureDetails = failure ?? new FailureDetails(
                    "Terminated", $"Sub-orchestration '{workItem.InstanceId}' was terminated{(result is null ? string.Empty : ": " + result)}.").ToProto(),
            };
        }

        checkpoint.OutboundMessages.Add(new OutboundMessage(parent.OrchestrationInstance.InstanceId, message));
    }

    private static ExecutionStartedEvent? FindExecutionStarted(OrchestrationWorkItem workItem) =>
        workItem.PastEvents.FirstOrDefault(e => e.ExecutionStarted is not null)?.ExecutionStarted
        ?? workItem.NewMessages.FirstOrDefault(e => e.ExecutionStarted is not null)?.ExecutionStarted;

    /// <summary>The entities of every critical section the history requested and did not release.</summary>
    private static IEnumerable<(string SectionId, string Entity)> HeldLocks(IReadOnlyList<HistoryEvent> history)
    {
        var sections = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var e in history)
        {
            if (e.EntityLockRequested is { } request)
            {
                sections[request.CriticalSectionId] = new HashSet<string>(request.LockSet, StringComparer.Ordinal);
            }
            else if (e.EntityUnlockSent is { } unlock && sections.TryGetValue(unlock.CriticalSectionId, out var set) && unlock.TargetInstanceId is { } target)
            {
                set.Remove(target);
            }
        }

        return sections.SelectMany(s => s.Value.Select(entity => (s.Key, entity)));
    }

    /// <summary>Sub-orchestrations the history started and has no result for.</summary>
    private static List<string> RunningChildren(IReadOnlyList<HistoryEvent> history)
    {
        var running = new Dictionary<int, string>();
        foreach (var e in history)
        {
            if (e.SubOrchestrationInstanceCreated is { } created)
            {
                running[e.EventId] = created.InstanceId;
            }
            else if (e.SubOrchestrationInstanceCompleted is { } completed)
            {
                running.Remove(completed.TaskScheduledId);
            }
            else if (e.SubOrchestrationInstanceFailed is { } failed)
            {
                running.Remove(failed.TaskScheduledId);
            }
        }

        return [.. running.Values];
    }
}
