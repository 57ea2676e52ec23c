using System.Collections.Concurrent;
using System.Diagnostics;
using KataWorkflows.Engine;

namespace KataWorkflows.Telemetry.Tests.Harness;

/// <summary>Records every span of the engine's <see cref="ActivitySource"/> that ends while it listens.</summary>
public sealed class SpanCollector : IDisposable
{
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ActivityListener _listener;
    private readonly SemaphoreSlim _stopped = new(0);

    /// <summary>Starts listening.</summary>
    public SpanCollector()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == EngineTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = span =>
            {
                _spans.Enqueue(span);
                _stopped.Release();
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>The ended spans, in the order they ended.</summary>
    public IReadOnlyList<Activity> Spans => [.. _spans];

    /// <summary>The ended spans of one trace.</summary>
    public IReadOnlyList<Activity> InTrace(ActivityTraceId traceId) => [.. _spans.Where(s => s.TraceId == traceId)];

    /// <summary>The one ended span with this name; fails when there is none or more than one.</summary>
    public Activity One(string name) => Assert.Single(_spans, s => s.DisplayName == name);

    /// <summary>
    /// Waits until a span with this name has ended and returns it (the one, when there are more it fails). The worker
    /// emits a run's orchestration span after the run's last checkpoint committed, so a client that saw the run
    /// finish may be a little ahead of it.
    /// </summary>
    public async Task<Activity> WaitForAsync(string name, CancellationToken cancellationToken)
    {
        while (!_spans.Any(s => s.DisplayName == name))
        {
            await _stopped.WaitAsync(cancellationToken);
        }

        return One(name);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _listener.Dispose();
        _stopped.Dispose();
    }
}
