using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine;

public static partial class EngineTelemetry
{
    // System.Diagnostics has no way to give an Activity a chosen span id. The orchestration span needs one: its
    // children are recorded (and exported) in earlier episodes, maybe by an earlier process, and must point at it.
    // The official SDKs set the same private field; if a runtime renames it, the span keeps a random id and only the
    // parent links of its children break (a test catches that).
    private static readonly FieldInfo? SpanIdField = typeof(Activity).GetField("_spanId", BindingFlags.Instance | BindingFlags.NonPublic);
    private static readonly FieldInfo? IdField = typeof(Activity).GetField("_id", BindingFlags.Instance | BindingFlags.NonPublic);

    /// <summary>A new random span id for an orchestration run, stored in its <c>ExecutionStarted</c> event.</summary>
    internal static string NewSpanId() => ActivitySpanId.CreateRandom().ToHexString();

    /// <summary>The W3C context to store for a run a client schedules: the producer span's, else the caller's explicit one, else the ambient one.</summary>
    internal static TraceContext? TraceContextToStore(Activity? span, string? explicitTraceParent)
    {
        if (span is null && explicitTraceParent is not null && ActivityContext.TryParse(explicitTraceParent, null, out _))
        {
            return new TraceContext { TraceParent = explicitTraceParent };
        }

        var current = span ?? Activity.Current;
        return current is { IdFormat: ActivityIdFormat.W3C, Id: { } id }
            ? new TraceContext { TraceParent = id, TraceState = current.TraceStateString }
            : null;
    }

    internal static Activity? StartCreateOrchestrationSpan(string name, string? version, string instanceId, string? executionId, ActivityContext parent)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var span = Source.StartActivity($"{CreateOrchestrationSpanPrefix}:{name}", ActivityKind.Producer, parent);
        if (span is not null)
        {
            SetTaskTags(span, OrchestrationType, name, version, instanceId);
            span.SetTag(ExecutionIdTag, executionId);
        }

        return span;
    }

    /// <summary>
    /// The context of a run's <c>orchestration:&lt;name&gt;</c> span, the parent of everything the run schedules: the
    /// trace of the context stored in <c>ExecutionStarted</c>, and a span id that never changes for the execution
    /// (the stored one, else one derived from the execution id), so every episode, in any process, agrees on it.
    /// </summary>
    internal static bool TryGetOrchestrationContext(ExecutionStartedEvent? started, out ActivityContext parent, out ActivityContext orchestration)
    {
        orchestration = default;
        if (started?.ParentTraceContext is not { } stored
            || !ActivityContext.TryParse(stored.TraceParent, stored.TraceState, out parent))
        {
            parent = default;
            return false;
        }

        var spanId = TryParseSpanId(started.OrchestrationSpanID) ?? DeriveSpanId(started.OrchestrationInstance?.InstanceId, started.OrchestrationInstance?.ExecutionId);
        orchestration = new ActivityContext(parent.TraceId, spanId, parent.TraceFlags, parent.TraceState);
        return true;
    }

    /// <summary>
    /// Gives the activities and sub-orchestrations an episode schedules the run's trace context, so it is stored in
    /// their <c>TaskScheduled</c> / <c>SubOrchestrationInstanceCreated</c> events and travels with the work.
    /// A sub-orchestration gets its own <c>create_orchestration:&lt;name&gt;</c> producer span when spans are recorded.
    /// </summary>
    internal static void PropagateTo(OrchestratorResponse response, string instanceId, ActivityContext orchestration)
    {
        string? orchestrationParent = null;
        foreach (var action in response.Actions)
        {
            switch (action.OrchestratorActionTypeCase)
            {
                case OrchestratorAction.OrchestratorActionTypeOneofCase.ScheduleTask when action.ScheduleTask.ParentTraceContext is null:
                    orchestrationParent ??= TraceParentOf(orchestration);
                    action.ScheduleTask.ParentTraceContext = new TraceContext { TraceParent = orchestrationParent, TraceState = orchestration.TraceState };
                    break;
                case OrchestratorAction.OrchestratorActionTypeOneofCase.CreateSubOrchestration when action.CreateSubOrchestration.ParentTraceContext is null:
                {
                    var sub = action.CreateSubOrchestration;
                    using var span = StartCreateOrchestrationSpan(sub.Name, sub.Version, sub.InstanceId, executionId: null, orchestration);
                    span?.SetTag(ParentInstanceIdTag, instanceId);
                    sub.ParentTraceContext = span is { Id: { } id }
                        ? new TraceContext { TraceParent = id, TraceState = span.TraceStateString }
                        : new TraceContext { TraceParent = orchestrationParent ??= TraceParentOf(orchestration), TraceState = orchestration.TraceState };
                    break;
                }

                default:
                    break;
            }
        }
    }

    /// <summary>
    /// Emits the run's <c>orchestration:&lt;name&gt;</c> span once the run is over (completed, failed, terminated or
    /// continued as new): it starts when the run's first episode started and carries the run's stable span id.
    /// </summary>
    internal static void EmitOrchestrationSpan(
        ExecutionStartedEvent started, ActivityContext parent, ActivityContext orchestration, DateTime runStartedAt, DateTime endedAt, OrchestrationMetadata after, bool continuedAsNew)
    {
        if (!Source.HasListeners())
        {
            return;
        }

        using var span = Source.CreateActivity($"{OrchestrationSpanPrefix}:{started.Name}", ActivityKind.Server, parent);
        if (span is null)
        {
            return;
        }

        span.SetStartTime(runStartedAt);
        span.Start();
        if (SpanIdField?.FieldType == typeof(string))
        {
            SpanIdField.SetValue(span, orchestration.SpanId.ToHexString());
            IdField?.SetValue(span, null);
        }

        SetTaskTags(span, OrchestrationType, started.Name, started.Version, after.InstanceId);
        span.SetTag(ExecutionIdTag, started.OrchestrationInstance?.ExecutionId);
        span.SetTag(StatusTag, continuedAsNew ? "ContinuedAsNew" : after.Status.ToString());
        if (after.Status == OrchestrationRuntimeStatus.Failed)
        {
            span.SetStatus(ActivityStatusCode.Error, after.FailureDetails?.ErrorMessage);
        }

        span.SetEndTime(endedAt < runStartedAt ? runStartedAt : endedAt);
    }

    /// <summary>Starts the <c>activity:&lt;name&gt;</c> span of an activity execution, under the context stored when it was scheduled.</summary>
    internal static Activity? StartActivitySpan(ActivityRequest request)
    {
        if (!Source.HasListeners()
            || request.ParentTraceContext is not { } stored
            || !ActivityContext.TryParse(stored.TraceParent, stored.TraceState, out var parent))
        {
            return null;
        }

        var span = Source.StartActivity($"{ActivitySpanPrefix}:{request.Name}", ActivityKind.Server, parent);
        if (span is not null)
        {
            SetTaskTags(span, ActivityType, request.Name, request.Version, request.OrchestrationInstance?.InstanceId);
            span.SetTag(TaskIdTag, request.TaskId);
        }

        return span;
    }

    /// <summary>The run's <c>ExecutionStarted</c> event: in the committed history, or in the inbox on the first episode.</summary>
    internal static ExecutionStartedEvent? FindExecutionStarted(OrchestrationWorkItem workItem)
    {
        foreach (var e in workItem.PastEvents)
        {
            if (e.ExecutionStarted is { } started)
            {
                return started;
            }
        }

        foreach (var e in workItem.NewMessages)
        {
            if (e.ExecutionStarted is { } started)
            {
                return started;
            }
        }

        return null;
    }

    /// <summary>When the run's first episode started: the first <c>OrchestratorStarted</c> of the history, else now.</summary>
    internal static DateTime RunStartedAt(OrchestrationWorkItem workItem, DateTime now) =>
        workItem.PastEvents.Count > 0 && workItem.PastEvents[0].OrchestratorStarted is not null && workItem.PastEvents[0].Timestamp is { } at
            ? at.ToDateTime()
            : now;

    private static void SetTaskTags(Activity span, string type, string name, string? version, string? instanceId)
    {
        span.SetTag(TypeTag, type);
        span.SetTag(TaskNameTag, name);
        span.SetTag(InstanceIdTag, instanceId);
        if (!string.IsNullOrEmpty(version))
        {
            span.SetTag(TaskVersionTag, version);
        }
    }

    private static string TraceParentOf(ActivityContext context) =>
        string.Create(CultureInfo.InvariantCulture, $"00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-{(int)context.TraceFlags:x2}");

    private static ActivitySpanId? TryParseSpanId(string? hex)
    {
        if (hex is not { Length: 16 })
        {
            return null;
        }

        foreach (var c in hex)
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return null;
            }
        }

        var id = ActivitySpanId.CreateFromString(hex);
        return id == default ? null : id;
    }

    /// <summary>FNV-1a over the instance and execution ids: stable across processes, unlike <see cref="string.GetHashCode()"/>.</summary>
    private static ActivitySpanId DeriveSpanId(string? instanceId, string? executionId)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in string.Concat(instanceId, "\n", executionId))
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        hash = hash == 0 ? 1 : hash;
        Span<byte> bytes = stackalloc byte[8];
        BitConverter.TryWriteBytes(bytes, hash);
        return ActivitySpanId.CreateFromBytes(bytes);
    }
}
