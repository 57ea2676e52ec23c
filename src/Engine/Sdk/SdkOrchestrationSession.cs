using P = Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Sdk;

/// <summary>
/// An extended session for one orchestration instance: Core's runtime state, the SDK's shim and Core's executor stay
/// in memory between episodes, and an episode whose history continues what the session saw runs only its new
/// events (<see cref="DurableTask.Core.TaskOrchestrationExecutor.ExecuteNewEvents"/>). Any other history (another
/// worker ran an episode, a commit failed, a new execution) is replayed in full, and the session goes on from there.
/// </summary>
/// <remarks>One episode at a time: the caller serialises episodes of an instance, as its lease does.</remarks>
public sealed class SdkOrchestrationSession
{
    private readonly SdkOrchestrationRunner _runner;
    private SdkOrchestrationRunner.PreparedEpisode? _episode;
    private int _seenCount;
    private P.HistoryEvent? _lastSeen;
    private readonly HashSet<int> _expectedActionIds = [];

    internal SdkOrchestrationSession(SdkOrchestrationRunner runner) => _runner = runner;

    /// <summary>True once the orchestration's execution has ended (completed, failed or continued as new).</summary>
    public bool IsCompleted { get; private set; }

    /// <summary>
    /// Runs an episode. <paramref name="pastEvents"/> is the committed history; when it is what the previous episode
    /// of this session saw plus the events its actions were recorded as, only <paramref name="newEvents"/> run.
    /// </summary>
    public SdkEpisodeResult RunEpisode(
        IReadOnlyList<P.HistoryEvent> pastEvents,
        IReadOnlyList<P.HistoryEvent> newEvents,
        P.OrchestratorEntityParameters? entityParameters = null,
        IServiceProvider? services = null)
    {
        ArgumentNullException.ThrowIfNull(pastEvents);
        ArgumentNullException.ThrowIfNull(newEvents);
        try
        {
            SdkEpisodeResult result;
            if (_episode is { Executor: { } executor } episode && Continues(pastEvents))
            {
                var state = episode.State;
                state.NewEvents.Clear();
                foreach (var e in _runner.Mapper.ToCore(newEvents))
                {
                    state.AddEvent(e);
                }

                result = SdkOrchestrationRunner.Execute(episode, executor.ExecuteNewEvents, pastEvents, newEvents, replayed: false);
            }
            else
            {
                episode = _runner.Prepare(pastEvents, newEvents, entityParameters, services);
                if (episode.Executor is null)
                {
                    Reset();
                    IsCompleted = true;
                    return episode.NotFound!;
                }

                _episode = episode;
                IsCompleted = false;
                result = SdkOrchestrationRunner.Execute(episode, episode.Executor.Execute, pastEvents, newEvents, replayed: true);
            }

            Remember(pastEvents, newEvents, result);
            return result;
        }
        catch
        {
            Reset();
            throw;
        }
    }

    /// <summary>Forgets the code in memory, so that the next episode replays (after a lease loss, a failed commit...).</summary>
    public void Reset()
    {
        _episode = null;
        _seenCount = 0;
        _lastSeen = null;
        _expectedActionIds.Clear();
        IsCompleted = false;
    }

    /// <summary>
    /// The committed history continues the session when its prefix is what the session saw (same last event) and
    /// what follows holds exactly the events recorded for the previous episode's actions and its closing
    /// <c>OrchestratorCompleted</c>: no other episode, and nothing the code has not seen.
    /// </summary>
    private bool Continues(IReadOnlyList<P.HistoryEvent> pastEvents)
    {
        if (IsCompleted || _lastSeen is null || pastEvents.Count <= _seenCount)
        {
            return false;
        }

        var boundary = pastEvents[_seenCount - 1];
        if (!ReferenceEquals(boundary, _lastSeen) && !boundary.Equals(_lastSeen))
        {
            return false;
        }

        var recorded = 0;
        for (var i = _seenCount; i < pastEvents.Count; i++)
        {
            var e = pastEvents[i];
            if (e.EventId >= 0)
            {
                if (!_expectedActionIds.Contains(e.EventId))
                {
                    return false;
                }

                recorded++;
            }
            else if (e.EventTypeCase != P.HistoryEvent.EventTypeOneofCase.OrchestratorCompleted)
            {
                return false;
            }
        }

        return recorded == _expectedActionIds.Count
            && pastEvents[^1].EventTypeCase == P.HistoryEvent.EventTypeOneofCase.OrchestratorCompleted;
    }

    private void Remember(IReadOnlyList<P.HistoryEvent> pastEvents, IReadOnlyList<P.HistoryEvent> newEvents, SdkEpisodeResult result)
    {
        if (result.Completion is not null || result.NonDeterminism is not null)
        {
            Reset();
            IsCompleted = true;
            return;
        }

        _seenCount = pastEvents.Count + newEvents.Count;
        _lastSeen = newEvents.Count > 0 ? newEvents[^1] : pastEvents.Count > 0 ? pastEvents[^1] : null;
        // One set for the session's life: an episode's actions replace the previous episode's.
        _expectedActionIds.Clear();
        foreach (var action in result.Actions)
        {
            _expectedActionIds.Add(action.Id);
        }
    }
}
