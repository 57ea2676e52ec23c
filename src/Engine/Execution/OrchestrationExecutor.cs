using System.Collections.Concurrent;
using KataWorkflows.Engine.Sdk;
using KataWorkflows.Engine.Serialization;
using Microsoft.DurableTask.Protobuf;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.Engine.Execution;

/// <summary>
/// Runs one episode of an orchestration: replays the committed history (or goes on where the code waits in memory),
/// applies the new events, and returns the actions the code produced. The result is the protocol's
/// <see cref="OrchestratorResponse"/>, the same thing a remote SDK worker sends back, so one applier handles both.
/// </summary>
public sealed class OrchestrationExecutor
{
    private readonly DurableTaskRegistry _registry;
    private readonly IServiceProvider _services;
    private readonly DataConverter _converter;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ConcurrentDictionary<string, ReplayOrchestrationContext> _sessions = new(StringComparer.Ordinal);

    /// <summary>Creates an executor over the registered orchestrators.</summary>
    public OrchestrationExecutor(DurableTaskRegistry registry, IServiceProvider services, DataConverter converter, ILoggerFactory loggerFactory)
    {
        _registry = registry;
        _services = services;
        _converter = converter;
        _loggerFactory = loggerFactory;
    }

    /// <summary>
    /// The most orchestrations whose code is kept waiting in memory between episodes (extended sessions); 0 turns
    /// sessions off, and every episode replays its whole history.
    /// </summary>
    public int MaxSessions { get; init; } = 1024;

    /// <summary>Orchestrations whose code waits in memory for their next episode.</summary>
    public int Sessions => _sessions.Count;

    /// <summary>Executes one episode.</summary>
    /// <param name="instanceId">The instance id.</param>
    /// <param name="pastEvents">Committed history, replayed with <see cref="TaskOrchestrationContext.IsReplaying"/> true.</param>
    /// <param name="newEvents">The new events of this episode, starting with <c>OrchestratorStarted</c>.</param>
    /// <remarks>
    /// When the code of this instance still waits in memory where the previous episode left it, and
    /// <paramref name="pastEvents"/> is that episode's history going on (the very event objects it saw, then what its
    /// checkpoint recorded), the code goes on from there: only the recorded actions are matched and the new events
    /// run. Otherwise, after a restart, a failed commit, or an episode whose checkpoint was not the one committed, the
    /// whole history is replayed. Both give the same result: replay is deterministic.
    /// </remarks>
    public OrchestratorResponse Execute(string instanceId, IReadOnlyList<HistoryEvent> pastEvents, IReadOnlyList<HistoryEvent> newEvents)
    {
        ArgumentNullException.ThrowIfNull(pastEvents);
        ArgumentNullException.ThrowIfNull(newEvents);

        // Taking the session out makes its use exclusive; it goes back only if the code can go on.
        OrchestratorResponse response;
        if (_sessions.TryRemove(instanceId, out var context) && context.EventsSeen <= pastEvents.Count
            && ReferenceEquals(pastEvents[context.EventsSeen - 1], context.LastEventSeen))
        {
            response = context.Run(pastEvents, context.EventsSeen, newEvents);
        }
        else
        {
            context = new ReplayOrchestrationContext(instanceId, _registry, _services, _converter, _loggerFactory);
            response = context.Run(pastEvents, newEvents);
        }

        if (context.CanContinue && context.EventsSeen > 0 && MaxSessions > 0)
        {
            // Full: an arbitrary session makes room (its code replays its history at its next episode).
            if (_sessions.Count >= MaxSessions && _sessions.Keys.FirstOrDefault() is { } evicted)
            {
                _sessions.TryRemove(evicted, out _);
            }

            _sessions[instanceId] = context;
        }

        return response;
    }

    /// <summary>Forgets the session of an instance (its code replays the whole history at its next episode).</summary>
    public void EndSession(string instanceId) => _sessions.TryRemove(instanceId, out _);

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
