using CoreHistory = DurableTask.Core.History;
using P = Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Sdk;

// DurableTask.Core's event classes have no place for a few protocol fields. These subclasses carry them through the
// executor unchanged (Core reads the base class only), so an event that goes in comes back out whole.

/// <summary>An <c>ExecutionStarted</c> with the protocol's long-running orchestration span id.</summary>
internal sealed class ProtocolExecutionStartedEvent(int eventId, string? input) : CoreHistory.ExecutionStartedEvent(eventId, input)
{
    public string? OrchestrationSpanId { get; init; }
}

/// <summary>An <c>ExecutionTerminated</c> that remembers whether the children are terminated too.</summary>
internal sealed class ProtocolExecutionTerminatedEvent(int eventId, string? input) : CoreHistory.ExecutionTerminatedEvent(eventId, input)
{
    public bool Recurse { get; init; }
}

/// <summary>A <c>SubOrchestrationInstanceCreated</c> with the trace context the child was started under.</summary>
internal sealed class ProtocolSubOrchestrationCreatedEvent(int eventId) : CoreHistory.SubOrchestrationInstanceCreatedEvent(eventId)
{
    public P.TraceContext? ProtocolTraceContext { get; init; }
}

/// <summary>An <c>ExecutionRewound</c> with the fields only the Durable Task Scheduler fills in.</summary>
internal sealed class ProtocolExecutionRewoundEvent(int eventId, string? reason) : CoreHistory.ExecutionRewoundEvent(eventId, reason)
{
    public string? Name { get; init; }

    public string? Version { get; init; }

    public string? Input { get; init; }

    public P.ParentInstanceInfo? ParentInstance { get; init; }

    public IReadOnlyDictionary<string, string>? Tags { get; init; }
}

/// <summary>What an entity's answer to an orchestration was, in the protocol's explicit events.</summary>
internal enum EntityResponseKind
{
    OperationCompleted,
    OperationFailed,
    LockGranted,
}

/// <summary>
/// An entity's answer in Core's legacy encoding (an <c>EventRaised</c> named by the request id, with a
/// ResponseMessage as input), marked as such so that it maps back to the explicit event it came from and never
/// to a user's external event that happens to be named by a GUID.
/// </summary>
internal sealed class EntityResponseRaisedEvent(int eventId, string input, EntityResponseKind kind) : CoreHistory.EventRaisedEvent(eventId, input)
{
    public EntityResponseKind Kind { get; } = kind;
}
