using Google.Protobuf.WellKnownTypes;
using CoreFailure = DurableTask.Core.FailureDetails;
using CoreHistory = DurableTask.Core.History;
using CoreInstance = DurableTask.Core.OrchestrationInstance;
using CoreParent = DurableTask.Core.ParentInstance;
using CoreState = DurableTask.Core.OrchestrationState;
using CoreStatus = DurableTask.Core.OrchestrationStatus;
using CoreTrace = DurableTask.Core.Tracing.DistributedTraceContext;
using P = Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Sdk;

/// <summary>
/// The one place where the protocol's <see cref="P.HistoryEvent"/>s and <see cref="P.OrchestratorAction"/>s meet
/// DurableTask.Core's <see cref="CoreHistory.HistoryEvent"/>s and <see cref="DurableTask.Core.Command.OrchestratorAction"/>s.
/// </summary>
/// <remarks>
/// The store keeps the protocol's explicit entity events (<c>EntityOperationSignaled/Called/Completed/Failed</c>,
/// <c>EntityLockRequested/Granted</c>, <c>EntityUnlockSent</c>); Core's executor speaks the legacy encoding
/// (<c>EventSent</c> to <c>@name@key</c> named <c>op</c>/<c>release</c> with JSON request messages, answers as
/// <c>EventRaised</c> named by the request id). This class converts between the two, in both directions.
/// </remarks>
public sealed partial class CoreHistoryMapper
{
    /// <summary>Creates a mapper.</summary>
    /// <param name="maximumTimerInterval">
    /// The worker's <c>DurableTaskWorkerOptions.MaximumTimerInterval</c>: the SDK caps the time in a scheduled
    /// signal's event name with it, so replay has to cap it the same way to match.
    /// </param>
    public CoreHistoryMapper(TimeSpan maximumTimerInterval)
    {
        if (maximumTimerInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(maximumTimerInterval), maximumTimerInterval, "The maximum timer interval must be positive.");
        }

        MaximumTimerInterval = maximumTimerInterval;
    }

    /// <summary>The interval the SDK caps scheduled entity signals with.</summary>
    public TimeSpan MaximumTimerInterval { get; }

    /// <summary>Converts a sequence of protocol events in history order.</summary>
    /// <remarks>
    /// The sequence matters for one thing only: a scheduled entity signal's Core event name holds the time capped
    /// relative to the episode that sent it, which is the preceding <c>OrchestratorStarted</c>.
    /// </remarks>
    public List<CoreHistory.HistoryEvent> ToCore(IEnumerable<P.HistoryEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var converted = events is IReadOnlyCollection<P.HistoryEvent> sized ? new List<CoreHistory.HistoryEvent>(sized.Count) : [];
        DateTime? episode = null;
        foreach (var e in events)
        {
            var core = ToCore(e, episode);
            if (core is CoreHistory.OrchestratorStartedEvent)
            {
                episode = core.Timestamp;
            }

            converted.Add(core);
        }

        return converted;
    }

    /// <summary>Converts one protocol event. <paramref name="episodeTime"/> is the time of the episode it belongs to.</summary>
    public CoreHistory.HistoryEvent ToCore(P.HistoryEvent historyEvent, DateTime? episodeTime = null)
    {
        ArgumentNullException.ThrowIfNull(historyEvent);
        var id = historyEvent.EventId;
        CoreHistory.HistoryEvent core = historyEvent.EventTypeCase switch
        {
            P.HistoryEvent.EventTypeOneofCase.ExecutionStarted => ToCore(id, historyEvent.ExecutionStarted),
            P.HistoryEvent.EventTypeOneofCase.ExecutionCompleted => new CoreHistory.ExecutionCompletedEvent(
                id, historyEvent.ExecutionCompleted.Result, (CoreStatus)historyEvent.ExecutionCompleted.OrchestrationStatus, ToCore(historyEvent.ExecutionCompleted.FailureDetails)),
            P.HistoryEvent.EventTypeOneofCase.ExecutionTerminated => new ProtocolExecutionTerminatedEvent(id, historyEvent.ExecutionTerminated.Input)
            {
                Recurse = historyEvent.ExecutionTerminated.Recurse,
            },
            P.HistoryEvent.EventTypeOneofCase.TaskScheduled => ToCore(id, historyEvent.TaskScheduled),
            P.HistoryEvent.EventTypeOneofCase.TaskCompleted => new CoreHistory.TaskCompletedEvent(
                id, historyEvent.TaskCompleted.TaskScheduledId, historyEvent.TaskCompleted.Result),
            P.HistoryEvent.EventTypeOneofCase.TaskFailed => new CoreHistory.TaskFailedEvent(
                id, historyEvent.TaskFailed.TaskScheduledId, reason: null, details: null, ToCore(historyEvent.TaskFailed.FailureDetails)),
            P.HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceCreated => ToCore(id, historyEvent.SubOrchestrationInstanceCreated),
            P.HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceCompleted => new CoreHistory.SubOrchestrationInstanceCompletedEvent(
                id, historyEvent.SubOrchestrationInstanceCompleted.TaskScheduledId, historyEvent.SubOrchestrationInstanceCompleted.Result),
            P.HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceFailed => new CoreHistory.SubOrchestrationInstanceFailedEvent(
                id, historyEvent.SubOrchestrationInstanceFailed.TaskScheduledId, reason: null, details: null, ToCore(historyEvent.SubOrchestrationInstanceFailed.FailureDetails)),
            P.HistoryEvent.EventTypeOneofCase.TimerCreated => new CoreHistory.TimerCreatedEvent(id, ToDateTime(historyEvent.TimerCreated.FireAt)),
            P.HistoryEvent.EventTypeOneofCase.TimerFired => new CoreHistory.TimerFiredEvent(id, ToDateTime(historyEvent.TimerFired.FireAt))
            {
                TimerId = historyEvent.TimerFired.TimerId,
            },
            P.HistoryEvent.EventTypeOneofCase.OrchestratorStarted => new CoreHistory.OrchestratorStartedEvent(id),
            P.HistoryEvent.EventTypeOneofCase.OrchestratorCompleted => new CoreHistory.OrchestratorCompletedEvent(id),
            P.HistoryEvent.EventTypeOneofCase.EventSent => new CoreHistory.EventSentEvent(id)
            {
                InstanceId = historyEvent.EventSent.InstanceId,
                Name = historyEvent.EventSent.Name,
                Input = historyEvent.EventSent.Input,
            },
            P.HistoryEvent.EventTypeOneofCase.EventRaised => new CoreHistory.EventRaisedEvent(id, historyEvent.EventRaised.Input)
            {
                Name = historyEvent.EventRaised.Name,
            },
            P.HistoryEvent.EventTypeOneofCase.GenericEvent => new CoreHistory.GenericEvent(id, historyEvent.GenericEvent.Data),
            P.HistoryEvent.EventTypeOneofCase.HistoryState => new CoreHistory.HistoryStateEvent(id, ToCore(historyEvent.HistoryState.OrchestrationState)),
            P.HistoryEvent.EventTypeOneofCase.ContinueAsNew => new CoreHistory.ContinueAsNewEvent(id, historyEvent.ContinueAsNew.Input),
            P.HistoryEvent.EventTypeOneofCase.ExecutionSuspended => new CoreHistory.ExecutionSuspendedEvent(id, historyEvent.ExecutionSuspended.Input),
            P.HistoryEvent.EventTypeOneofCase.ExecutionResumed => new CoreHistory.ExecutionResumedEvent(id, historyEvent.ExecutionResumed.Input),
            P.HistoryEvent.EventTypeOneofCase.ExecutionRewound => ToCore(id, historyEvent.ExecutionRewound),
            P.HistoryEvent.EventTypeOneofCase.EntityOperationSignaled
                or P.HistoryEvent.EventTypeOneofCase.EntityOperationCalled
                or P.HistoryEvent.EventTypeOneofCase.EntityLockRequested
                or P.HistoryEvent.EventTypeOneofCase.EntityUnlockSent
                or P.HistoryEvent.EventTypeOneofCase.EntityOperationCompleted
                or P.HistoryEvent.EventTypeOneofCase.EntityOperationFailed
                or P.HistoryEvent.EventTypeOneofCase.EntityLockGranted => EntityToCore(historyEvent, episodeTime ?? ToDateTime(historyEvent.Timestamp)),
            _ => throw new ArgumentException($"History event {id} has no event type (field {historyEvent.EventTypeCase}).", nameof(historyEvent)),
        };
        core.Timestamp = ToDateTime(historyEvent.Timestamp);
        return core;
    }

    /// <summary>Converts a Core event back to the protocol's.</summary>
    public static P.HistoryEvent ToProtocol(CoreHistory.HistoryEvent historyEvent)
    {
        ArgumentNullException.ThrowIfNull(historyEvent);
        var e = new P.HistoryEvent { EventId = historyEvent.EventId, Timestamp = ToTimestamp(historyEvent.Timestamp) };
        switch (historyEvent)
        {
            case CoreHistory.ExecutionStartedEvent started:
                e.ExecutionStarted = ToProtocol(started);
                break;
            case CoreHistory.ContinueAsNewEvent continued:
                e.ContinueAsNew = new P.ContinueAsNewEvent { Input = continued.Result };
                break;
            case CoreHistory.ExecutionCompletedEvent completed:
                e.ExecutionCompleted = new P.ExecutionCompletedEvent
                {
                    OrchestrationStatus = (P.OrchestrationStatus)completed.OrchestrationStatus,
                    Result = completed.Result,
                    FailureDetails = ToProtocol(completed.FailureDetails),
                };
                break;
            case CoreHistory.ExecutionTerminatedEvent terminated:
                e.ExecutionTerminated = new P.ExecutionTerminatedEvent
                {
                    Input = terminated.Input,
                    Recurse = terminated is ProtocolExecutionTerminatedEvent { Recurse: true },
                };
                break;
            case CoreHistory.TaskScheduledEvent scheduled:
                e.TaskScheduled = new P.TaskScheduledEvent
                {
                    Name = scheduled.Name ?? string.Empty,
                    Version = scheduled.Version,
                    Input = scheduled.Input,
                    ParentTraceContext = ToProtocol(scheduled.ParentTraceContext),
                };
                AddTags(e.TaskScheduled.Tags, scheduled.Tags);
                break;
            case CoreHistory.TaskCompletedEvent taskCompleted:
                e.TaskCompleted = new P.TaskCompletedEvent { TaskScheduledId = taskCompleted.TaskScheduledId, Result = taskCompleted.Result };
                break;
            case CoreHistory.TaskFailedEvent taskFailed:
                e.TaskFailed = new P.TaskFailedEvent
                {
                    TaskScheduledId = taskFailed.TaskScheduledId,
                    FailureDetails = ToProtocol(taskFailed.FailureDetails) ?? LegacyFailure(taskFailed.Reason, taskFailed.Details),
                };
                break;
            case CoreHistory.SubOrchestrationInstanceCreatedEvent created:
                e.SubOrchestrationInstanceCreated = new P.SubOrchestrationInstanceCreatedEvent
                {
                    InstanceId = created.InstanceId ?? string.Empty,
                    Name = created.Name ?? string.Empty,
                    Version = created.Version,
                    Input = created.Input,
                    ParentTraceContext = (created as ProtocolSubOrchestrationCreatedEvent)?.ProtocolTraceContext?.Clone(),
                };
                AddTags(e.SubOrchestrationInstanceCreated.Tags, created.Tags);
                break;
            case CoreHistory.SubOrchestrationInstanceCompletedEvent subCompleted:
                e.SubOrchestrationInstanceCompleted = new P.SubOrchestrationInstanceCompletedEvent
                {
                    TaskScheduledId = subCompleted.TaskScheduledId,
                    Result = subCompleted.Result,
                };
                break;
            case CoreHistory.SubOrchestrationInstanceFailedEvent subFailed:
                e.SubOrchestrationInstanceFailed = new P.SubOrchestrationInstanceFailedEvent
                {
                    TaskScheduledId = subFailed.TaskScheduledId,
                    FailureDetails = ToProtocol(subFailed.FailureDetails) ?? LegacyFailure(subFailed.Reason, subFailed.Details),
                };
                break;
            case CoreHistory.TimerCreatedEvent timerCreated:
                e.TimerCreated = new P.TimerCreatedEvent { FireAt = ToTimestamp(timerCreated.FireAt) };
                break;
            case CoreHistory.TimerFiredEvent timerFired:
                e.TimerFired = new P.TimerFiredEvent { FireAt = ToTimestamp(timerFired.FireAt), TimerId = timerFired.TimerId };
                break;
            case CoreHistory.OrchestratorStartedEvent:
                e.OrchestratorStarted = new P.OrchestratorStartedEvent();
                break;
            case CoreHistory.OrchestratorCompletedEvent:
                e.OrchestratorCompleted = new P.OrchestratorCompletedEvent();
                break;
            case CoreHistory.EventSentEvent sent:
                if (!TryEntityMessageToProtocol(sent.InstanceId, sent.Name, sent.Input, e))
                {
                    e.EventSent = new P.EventSentEvent { InstanceId = sent.InstanceId ?? string.Empty, Name = sent.Name ?? string.Empty, Input = sent.Input };
                }

                break;
            case EntityResponseRaisedEvent response:
                EntityResponseToProtocol(response, e);
                break;
            case CoreHistory.EventRaisedEvent raised:
                e.EventRaised = new P.EventRaisedEvent { Name = raised.Name ?? string.Empty, Input = raised.Input };
                break;
            case CoreHistory.GenericEvent generic:
                e.GenericEvent = new P.GenericEvent { Data = generic.Data };
                break;
            case CoreHistory.HistoryStateEvent state:
                e.HistoryState = new P.HistoryStateEvent { OrchestrationState = ToProtocol(state.State) };
                break;
            case CoreHistory.ExecutionSuspendedEvent suspended:
                e.ExecutionSuspended = new P.ExecutionSuspendedEvent { Input = suspended.Reason };
                break;
            case CoreHistory.ExecutionResumedEvent resumed:
                e.ExecutionResumed = new P.ExecutionResumedEvent { Input = resumed.Reason };
                break;
            case CoreHistory.ExecutionRewoundEvent rewound:
                e.ExecutionRewound = ToProtocol(rewound);
                break;
            default:
                throw new ArgumentException($"DurableTask.Core event {historyEvent.EventType} ({historyEvent.GetType().Name}) has no protocol form.", nameof(historyEvent));
        }

        return e;
    }

    /// <summary>Converts protocol failure details, inner failures and properties included.</summary>
    public static CoreFailure? ToCore(P.TaskFailureDetails? failure)
    {
        if (failure is null)
        {
            return null;
        }

        Dictionary<string, object?>? properties = null;
        if (failure.Properties.Count > 0)
        {
            properties = new Dictionary<string, object?>(failure.Properties.Count, StringComparer.Ordinal);
            foreach (var (key, value) in failure.Properties)
            {
                properties[key] = FromValue(value);
            }
        }

        return new CoreFailure(failure.ErrorType, failure.ErrorMessage, failure.StackTrace, ToCore(failure.InnerFailure), failure.IsNonRetriable, properties!);
    }

    /// <summary>Converts Core failure details to the protocol's.</summary>
    public static P.TaskFailureDetails? ToProtocol(CoreFailure? failure)
    {
        if (failure is null)
        {
            return null;
        }

        var details = new P.TaskFailureDetails
        {
            ErrorType = failure.ErrorType ?? string.Empty,
            ErrorMessage = failure.ErrorMessage ?? string.Empty,
            StackTrace = failure.StackTrace,
            InnerFailure = ToProtocol(failure.InnerFailure),
            IsNonRetriable = failure.IsNonRetriable,
        };
        if (failure.Properties is { } properties)
        {
            foreach (var (key, value) in properties)
            {
                details.Properties[key] = ToValue(value);
            }
        }

        return details;
    }

    internal static DateTime ToDateTime(Timestamp? timestamp) =>
        timestamp is null ? DateTime.SpecifyKind(DateTime.MinValue, DateTimeKind.Utc) : timestamp.ToDateTime();

    internal static Timestamp? ToTimestamp(DateTime time) => time == DateTime.MinValue ? null : Timestamp.FromDateTime(AsUtc(time));

    internal static DateTime AsUtc(DateTime time) => time.Kind switch
    {
        DateTimeKind.Utc => time,
        DateTimeKind.Local => time.ToUniversalTime(),
        _ => DateTime.SpecifyKind(time, DateTimeKind.Utc),
    };

#pragma warning disable CS0612 // The deprecated span id is still a protocol field, so it is carried.
    internal static CoreTrace? ToCore(P.TraceContext? trace) => trace is null
        ? null
        : new CoreTrace(trace.TraceParent, trace.TraceState) { SpanId = trace.SpanID.Length == 0 ? null : trace.SpanID };

    internal static P.TraceContext? ToProtocol(CoreTrace? trace) => trace is null
        ? null
        : new P.TraceContext { TraceParent = trace.TraceParent ?? string.Empty, SpanID = trace.SpanId ?? string.Empty, TraceState = trace.TraceState };
#pragma warning restore CS0612

    private static ProtocolExecutionStartedEvent ToCore(int id, P.ExecutionStartedEvent started)
    {
        var core = new ProtocolExecutionStartedEvent(id, started.Input)
        {
            OrchestrationSpanId = started.OrchestrationSpanID,
            Name = started.Name,
            Version = started.Version,
            ParentInstance = ToCore(started.ParentInstance),
            ScheduledStartTime = started.ScheduledStartTimestamp?.ToDateTime(),
            ParentTraceContext = ToCore(started.ParentTraceContext),
            Tags = started.Tags.Count == 0 ? null : new Dictionary<string, string>(started.Tags, StringComparer.Ordinal),
        };
        core.OrchestrationInstance = ToCore(started.OrchestrationInstance);
        return core;
    }

    private static P.ExecutionStartedEvent ToProtocol(CoreHistory.ExecutionStartedEvent started)
    {
        var e = new P.ExecutionStartedEvent
        {
            Name = started.Name ?? string.Empty,
            Version = started.Version,
            Input = started.Input,
            OrchestrationInstance = ToProtocol(started.OrchestrationInstance),
            ParentInstance = ToProtocol(started.ParentInstance),
            ScheduledStartTimestamp = started.ScheduledStartTime is { } at ? Timestamp.FromDateTime(AsUtc(at)) : null,
            ParentTraceContext = ToProtocol(started.ParentTraceContext),
            OrchestrationSpanID = (started as ProtocolExecutionStartedEvent)?.OrchestrationSpanId,
        };
        AddTags(e.Tags, started.Tags);
        return e;
    }

    private static CoreHistory.TaskScheduledEvent ToCore(int id, P.TaskScheduledEvent scheduled) => new(id, scheduled.Name, scheduled.Version, scheduled.Input)
    {
        ParentTraceContext = ToCore(scheduled.ParentTraceContext),
        Tags = scheduled.Tags.Count == 0 ? null : new Dictionary<string, string>(scheduled.Tags, StringComparer.Ordinal),
    };

    private static ProtocolSubOrchestrationCreatedEvent ToCore(int id, P.SubOrchestrationInstanceCreatedEvent created) => new ProtocolSubOrchestrationCreatedEvent(id)
    {
        InstanceId = created.InstanceId,
        Name = created.Name,
        Version = created.Version,
        Input = created.Input,
        ProtocolTraceContext = created.ParentTraceContext?.Clone(),
        Tags = created.Tags.Count == 0 ? null : new Dictionary<string, string>(created.Tags, StringComparer.Ordinal),
    };

    private static ProtocolExecutionRewoundEvent ToCore(int id, P.ExecutionRewoundEvent rewound) => new ProtocolExecutionRewoundEvent(id, rewound.Reason)
    {
        ParentExecutionId = rewound.ParentExecutionId,
        InstanceId = rewound.InstanceId,
        ParentTraceContext = ToCore(rewound.ParentTraceContext),
        Name = rewound.Name,
        Version = rewound.Version,
        Input = rewound.Input,
        ParentInstance = rewound.ParentInstance?.Clone(),
        Tags = rewound.Tags.Count == 0 ? null : new Dictionary<string, string>(rewound.Tags, StringComparer.Ordinal),
    };

    private static P.ExecutionRewoundEvent ToProtocol(CoreHistory.ExecutionRewoundEvent rewound)
    {
        var e = new P.ExecutionRewoundEvent
        {
            Reason = rewound.Reason,
            ParentExecutionId = rewound.ParentExecutionId,
            InstanceId = rewound.InstanceId,
            ParentTraceContext = ToProtocol(rewound.ParentTraceContext),
        };
        if (rewound is ProtocolExecutionRewoundEvent extra)
        {
            e.Name = extra.Name;
            e.Version = extra.Version;
            e.Input = extra.Input;
            e.ParentInstance = extra.ParentInstance?.Clone();
            if (extra.Tags is { } tags)
            {
                foreach (var (key, value) in tags)
                {
                    e.Tags[key] = value;
                }
            }
        }

        return e;
    }

    private static CoreInstance? ToCore(P.OrchestrationInstance? instance) =>
        instance is null ? null : new CoreInstance { InstanceId = instance.InstanceId, ExecutionId = instance.ExecutionId };

    private static P.OrchestrationInstance? ToProtocol(CoreInstance? instance) =>
        instance is null ? null : new P.OrchestrationInstance { InstanceId = instance.InstanceId ?? string.Empty, ExecutionId = instance.ExecutionId };

    private static CoreParent? ToCore(P.ParentInstanceInfo? parent) => parent is null
        ? null
        : new CoreParent
        {
            TaskScheduleId = parent.TaskScheduledId,
            Name = parent.Name,
            Version = parent.Version,
            OrchestrationInstance = ToCore(parent.OrchestrationInstance),
        };

    private static P.ParentInstanceInfo? ToProtocol(CoreParent? parent) => parent is null
        ? null
        : new P.ParentInstanceInfo
        {
            TaskScheduledId = parent.TaskScheduleId,
            Name = parent.Name,
            Version = parent.Version,
            OrchestrationInstance = ToProtocol(parent.OrchestrationInstance),
        };

    private static CoreState? ToCore(P.OrchestrationState? state)
    {
        if (state is null)
        {
            return null;
        }

        return new CoreState
        {
            OrchestrationInstance = new CoreInstance { InstanceId = state.InstanceId, ExecutionId = state.ExecutionId },
            Name = state.Name,
            Version = state.Version,
            OrchestrationStatus = (CoreStatus)state.OrchestrationStatus,
            ScheduledStartTime = state.ScheduledStartTimestamp?.ToDateTime(),
            CreatedTime = ToDateTime(state.CreatedTimestamp),
            LastUpdatedTime = ToDateTime(state.LastUpdatedTimestamp),
            CompletedTime = ToDateTime(state.CompletedTimestamp),
            Input = state.Input,
            Output = state.Output,
            Status = state.CustomStatus,
            FailureDetails = ToCore(state.FailureDetails),
            ParentInstance = state.ParentInstanceId is { } parent ? new CoreParent { OrchestrationInstance = new CoreInstance { InstanceId = parent } } : null,
            Tags = state.Tags.Count == 0 ? null : new Dictionary<string, string>(state.Tags, StringComparer.Ordinal),
        };
    }

    private static P.OrchestrationState? ToProtocol(CoreState? state)
    {
        if (state is null)
        {
            return null;
        }

        var p = new P.OrchestrationState
        {
            InstanceId = state.OrchestrationInstance?.InstanceId ?? string.Empty,
            ExecutionId = state.OrchestrationInstance?.ExecutionId,
            Name = state.Name ?? string.Empty,
            Version = state.Version,
            OrchestrationStatus = (P.OrchestrationStatus)state.OrchestrationStatus,
            ScheduledStartTimestamp = state.ScheduledStartTime is { } at ? Timestamp.FromDateTime(AsUtc(at)) : null,
            CreatedTimestamp = ToTimestamp(state.CreatedTime),
            LastUpdatedTimestamp = ToTimestamp(state.LastUpdatedTime),
            CompletedTimestamp = ToTimestamp(state.CompletedTime),
            Input = state.Input,
            Output = state.Output,
            CustomStatus = state.Status,
            FailureDetails = ToProtocol(state.FailureDetails),
            ParentInstanceId = state.ParentInstance?.OrchestrationInstance?.InstanceId,
        };
        AddTags(p.Tags, state.Tags);
        return p;
    }

    private static void AddTags(Google.Protobuf.Collections.MapField<string, string> target, IDictionary<string, string>? tags)
    {
        if (tags is not null)
        {
            target.Add(tags);
        }
    }

    /// <summary>Failure details for an old Core event that carries only a reason and details text.</summary>
    private static P.TaskFailureDetails? LegacyFailure(string? reason, string? details) =>
        reason is null && details is null ? null : new P.TaskFailureDetails { ErrorType = reason ?? string.Empty, ErrorMessage = details ?? string.Empty };

    private static object? FromValue(Value value) => value.KindCase switch
    {
        Value.KindOneofCase.NullValue or Value.KindOneofCase.None => null,
        Value.KindOneofCase.NumberValue => value.NumberValue,
        Value.KindOneofCase.StringValue => value.StringValue,
        Value.KindOneofCase.BoolValue => value.BoolValue,
        Value.KindOneofCase.StructValue => value.StructValue.Fields.ToDictionary(f => f.Key, f => FromValue(f.Value), StringComparer.Ordinal),
        Value.KindOneofCase.ListValue => value.ListValue.Values.Select(FromValue).ToList(),
        _ => null,
    };

    private static Value ToValue(object? value) => value switch
    {
        null => Value.ForNull(),
        string s => Value.ForString(s),
        bool b => Value.ForBool(b),
        double d => Value.ForNumber(d),
        float or int or long or short or byte or uint or ulong or ushort or sbyte or decimal => Value.ForNumber(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture)),
        DateTime dt => Value.ForString(AsUtc(dt).ToString("o", System.Globalization.CultureInfo.InvariantCulture)),
        DateTimeOffset dto => Value.ForString(dto.ToString("o", System.Globalization.CultureInfo.InvariantCulture)),
        Value v => v.Clone(),
        System.Collections.IDictionary map => Value.ForStruct(ToStruct(map)),
        System.Collections.IEnumerable list => Value.ForList([.. list.Cast<object?>().Select(ToValue)]),
        _ => Value.ForString(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty),
    };

    private static Struct ToStruct(System.Collections.IDictionary map)
    {
        var s = new Struct();
        foreach (System.Collections.DictionaryEntry entry in map)
        {
            s.Fields[Convert.ToString(entry.Key, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty] = ToValue(entry.Value);
        }

        return s;
    }
}
