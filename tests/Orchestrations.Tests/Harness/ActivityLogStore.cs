using System.Threading.Channels;
using KataWorkflows.Engine.Storage;
using KataWorkflows.TestSupport;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Orchestrations.Tests.Harness;

/// <summary>One activity the worker took (<see cref="Started"/>) or handed the result of (not started).</summary>
/// <param name="InstanceId">The run that scheduled it.</param>
/// <param name="Name">The activity.</param>
/// <param name="Started">True when the worker took it; false when it handed in its result.</param>
public sealed record ActivityEvent(string InstanceId, string Name, bool Started);

/// <summary>
/// Passes everything to the real store and logs, in the order the worker did them, every activity it took and every
/// result it handed in: the sequence the serialization assertions read, and what a test awaits to know a step began.
/// </summary>
public sealed class ActivityLogStore(IOrchestrationStore inner) : DelegatingOrchestrationStore(inner)
{
    private readonly Lock _sync = new();
    private readonly List<ActivityEvent> _events = [];
    private readonly Channel<ActivityEvent> _started = Channel.CreateUnbounded<ActivityEvent>();
    private readonly ChangeSignal _entityCommitted = new();

    /// <summary>Every activity event so far, in order.</summary>
    public IReadOnlyList<ActivityEvent> Events
    {
        get
        {
            lock (_sync)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>Waits until the worker takes an activity named <paramref name="name"/> (taken before the call count too).</summary>
    public async Task<ActivityEvent> WaitForStartAsync(string name, CancellationToken cancellationToken)
    {
        while (true)
        {
            var next = await _started.Reader.ReadAsync(cancellationToken);
            if (string.Equals(next.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return next;
            }
        }
    }

    /// <summary>
    /// A task that completes when the worker next commits an entity batch or takes entity work (the store applies lock
    /// requests and releases while the worker asks for entity work, and signals no change for entities). Take it before
    /// reading the entity, so a change in between is not missed.
    /// </summary>
    public Task NextEntityCommit() => _entityCommitted.Next();

    /// <inheritdoc />
    public override async Task CompleteEntityAsync(EntityWorkItem workItem, EntityBatchResult result, CancellationToken cancellationToken)
    {
        await Inner.CompleteEntityAsync(workItem, result, cancellationToken);
        _entityCommitted.Set();
    }

    /// <inheritdoc />
    public override async Task<EntityWorkItem?> TryLockEntityAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        try
        {
            return await Inner.TryLockEntityAsync(lease, cancellationToken);
        }
        finally
        {
            _entityCommitted.Set();
        }
    }

    /// <inheritdoc />
    public override async Task<ActivityWorkItem?> TryLockActivityAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        var item = await Inner.TryLockActivityAsync(lease, cancellationToken);
        if (item is not null)
        {
            var started = new ActivityEvent(item.InstanceId, item.Request.Name, Started: true);
            lock (_sync)
            {
                _events.Add(started);
            }

            _started.Writer.TryWrite(started);
        }

        return item;
    }

    /// <inheritdoc />
    public override async Task CompleteActivityAsync(ActivityWorkItem workItem, HistoryEvent result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        lock (_sync)
        {
            _events.Add(new ActivityEvent(workItem.InstanceId, workItem.Request.Name, Started: false));
        }

        await Inner.CompleteActivityAsync(workItem, result, cancellationToken);
    }
}
