using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Storage;

/// <summary>
/// A backend that keeps everything in memory. It survives the store that uses it, so a test can "restart" by
/// opening a new store over the same backend.
/// </summary>
public sealed class InMemoryStoreBackend : IStoreBackend
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, OrchestrationMetadata> _instances = new(StringComparer.Ordinal);
    private readonly Dictionary<(string InstanceId, string ExecutionId), SortedList<int, HistoryEvent>> _history = [];
    private readonly SortedDictionary<long, StoredMessage> _messages = [];
    private readonly SortedDictionary<long, StoredActivity> _activities = [];
    private readonly Dictionary<string, EntityRecord> _entities = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public string Description => "in-memory";

    /// <summary>How many batches were committed; tests use it to see that work was (or was not) written.</summary>
    public int CommitCount { get; private set; }

    /// <summary>When set, the next commits throw this exception instead of applying (fault injection for tests).</summary>
    public Func<StoreBatch, Exception?>? FailCommit { get; set; }

    /// <inheritdoc />
    public Task<RecoveredState> OpenAsync(CancellationToken cancellationToken)
    {
        lock (_sync)
        {
            var maxSequence = Math.Max(_messages.Count == 0 ? 0 : _messages.Keys.Max(), _activities.Count == 0 ? 0 : _activities.Keys.Max());
            return Task.FromResult(new RecoveredState(
                [.. _instances.Values.Where(i => !i.IsTerminal)],
                [.. _messages.Values],
                [.. _activities.Values],
                [.. _entities.Values],
                maxSequence));
        }
    }

    /// <inheritdoc />
    public Task CommitAsync(StoreBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        lock (_sync)
        {
            if (FailCommit?.Invoke(batch) is { } failure)
            {
                return Task.FromException(failure);
            }

            foreach (var append in batch.AppendHistory)
            {
                if (_history.TryGetValue((append.InstanceId, append.ExecutionId), out var existing)
                    && existing.Count > 0 && existing.Keys[^1] >= append.FirstSequence
                    && !batch.DeleteInstances.Contains(append.InstanceId))
                {
                    return Task.FromException(new InvalidOperationException(
                        $"History of '{append.InstanceId}' already has event #{append.FirstSequence}: two workers ran the same episode."));
                }
            }

            foreach (var id in batch.DeleteInstances)
            {
                _instances.Remove(id);
                foreach (var key in _history.Keys.Where(k => k.InstanceId == id).ToList())
                {
                    _history.Remove(key);
                }

                foreach (var seq in _messages.Values.Where(m => m.InstanceId == id).Select(m => m.Sequence).ToList())
                {
                    _messages.Remove(seq);
                }

                foreach (var seq in _activities.Values.Where(a => a.InstanceId == id).Select(a => a.Sequence).ToList())
                {
                    _activities.Remove(seq);
                }
            }

            foreach (var instance in batch.UpsertInstances)
            {
                _instances[instance.InstanceId] = instance;
            }

            foreach (var (instanceId, keep) in batch.TruncateHistory)
            {
                foreach (var key in _history.Keys.Where(k => k.InstanceId == instanceId && k.ExecutionId != keep).ToList())
                {
                    _history.Remove(key);
                }
            }

            foreach (var append in batch.AppendHistory)
            {
                if (!_history.TryGetValue((append.InstanceId, append.ExecutionId), out var events))
                {
                    _history[(append.InstanceId, append.ExecutionId)] = events = [];
                }

                for (var i = 0; i < append.Events.Count; i++)
                {
                    events[append.FirstSequence + i] = append.Events[i].Clone();
                }
            }

            foreach (var message in batch.InsertMessages)
            {
                _messages[message.Sequence] = message;
            }

            foreach (var seq in batch.DeleteMessages)
            {
                _messages.Remove(seq);
            }

            foreach (var activity in batch.InsertActivities)
            {
                _activities[activity.Sequence] = activity;
            }

            foreach (var seq in batch.DeleteActivities)
            {
                _activities.Remove(seq);
            }

            foreach (var entity in batch.UpsertEntities)
            {
                _entities[entity.InstanceId] = entity;
            }

            foreach (var id in batch.DeleteEntities)
            {
                _entities.Remove(id);
            }

            CommitCount++;
            return Task.CompletedTask;
        }
    }

    /// <inheritdoc />
    public Task<OrchestrationMetadata?> ReadInstanceAsync(string instanceId, bool includePayloads, CancellationToken cancellationToken)
    {
        lock (_sync)
        {
            return Task.FromResult(_instances.TryGetValue(instanceId, out var i) ? includePayloads ? i : i.WithoutPayloads() : null);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<HistoryEvent>> ReadHistoryAsync(string instanceId, string? executionId, CancellationToken cancellationToken)
    {
        lock (_sync)
        {
            executionId ??= _instances.TryGetValue(instanceId, out var i) ? i.ExecutionId : null;
            IReadOnlyList<HistoryEvent> events = executionId is not null && _history.TryGetValue((instanceId, executionId), out var list)
                ? list.Values.Select(e => e.Clone()).ToArray()
                : [];
            return Task.FromResult(events);
        }
    }

    /// <inheritdoc />
    public Task<InstancePage> QueryInstancesAsync(OrchestrationQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        lock (_sync)
        {
            var after = query.ContinuationToken is null ? (PageToken?)null : PageToken.Parse(query.ContinuationToken);
            var direction = query.NewestFirst ? -1 : 1;
            var matching = _instances.Values
                .Where(query.Matches)
                .Where(i => after is not { } a || direction * Compare(i, a) > 0);
            var ordered = query.NewestFirst
                ? matching.OrderByDescending(i => i.CreatedAt).ThenByDescending(i => i.InstanceId, StringComparer.Ordinal)
                : matching.OrderBy(i => i.CreatedAt).ThenBy(i => i.InstanceId, StringComparer.Ordinal);
            var rows = ordered
                .Take(query.PageSize + 1)
                .Select(i => query.IncludePayloads ? i : i.WithoutPayloads())
                .ToList();
            string? token = null;
            if (rows.Count > query.PageSize)
            {
                rows.RemoveAt(rows.Count - 1);
                token = new PageToken(rows[^1].CreatedAt, rows[^1].InstanceId).ToString();
            }

            return Task.FromResult(new InstancePage(rows, token));
        }
    }

    private static int Compare(OrchestrationMetadata instance, PageToken position)
    {
        var byTime = instance.CreatedAt.CompareTo(position.CreatedAt);
        return byTime != 0 ? byTime : string.CompareOrdinal(instance.InstanceId, position.InstanceId);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> FindPurgeableAsync(PurgeFilter filter, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        lock (_sync)
        {
            IReadOnlyList<string> ids = _instances.Values.Where(filter.Matches)
                .OrderBy(i => i.CreatedAt).ThenBy(i => i.InstanceId, StringComparer.Ordinal)
                .Take(limit).Select(i => i.InstanceId).ToArray();
            return Task.FromResult(ids);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
