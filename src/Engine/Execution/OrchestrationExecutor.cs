using KataWorkflows.Engine.Serialization;
using Microsoft.DurableTask.Protobuf;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.Engine.Execution;

/// <summary>
/// Runs one episode of an orchestration: replays the committed history, applies the new events, and returns
/// the actions the code produced. The result is the protocol's <see cref="OrchestratorResponse"/>, the same
/// thing a remote SDK worker sends back, so one applier handles both.
/// </summary>
public sealed class OrchestrationExecutor
{
    private readonly DurableTaskRegistry _registry;
    private readonly IServiceProvider _services;
    private readonly DataConverter _converter;
    private readonly ILoggerFactory _loggerFactory;

    /// <summary>Creates an executor over the registered orchestrators.</summary>
    public OrchestrationExecutor(DurableTaskRegistry registry, IServiceProvider services, DataConverter converter, ILoggerFactory loggerFactory)
    {
        _registry = registry;
        _services = services;
        _converter = converter;
        _loggerFactory = loggerFactory;
    }

    /// <summary>Executes one episode.</summary>
    /// <param name="instanceId">The instance id.</param>
    /// <param name="pastEvents">Committed history, replayed with <see cref="TaskOrchestrationContext.IsReplaying"/> true.</param>
    /// <param name="newEvents">The new events of this episode, starting with <c>OrchestratorStarted</c>.</param>
    public OrchestratorResponse Execute(string instanceId, IReadOnlyList<HistoryEvent> pastEvents, IReadOnlyList<HistoryEvent> newEvents)
    {
        ArgumentNullException.ThrowIfNull(pastEvents);
        ArgumentNullException.ThrowIfNull(newEvents);
        var context = new ReplayOrchestrationContext(instanceId, _registry, _services, _converter, _loggerFactory);
        return context.Run(pastEvents, newEvents);
    }

    /// <summary>
    /// Replays a recorded history (one execution, as stored or exported) against the current code, offline, and
    /// says whether the code still does what was recorded or where it first diverges.
    /// </summary>
    public ReplayResult Replay(string instanceId, IReadOnlyList<HistoryEvent> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var context = new ReplayOrchestrationContext(instanceId, _registry, _services, _converter, _loggerFactory);
        return context.Replay(history);
    }
}
