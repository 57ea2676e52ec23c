using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace KataWorkflows.TestSupport;

/// <summary>Records every measurement of the instruments of one meter while it listens.</summary>
public sealed class MetricCollector : IDisposable
{
    private readonly ConcurrentQueue<Recorded> _measurements = new();
    private readonly MeterListener _listener = new();
    private readonly SemaphoreSlim _recorded = new(0);

    /// <summary>Starts listening to the instruments of the meter named <paramref name="meterName"/>.</summary>
    public MetricCollector(string meterName)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == meterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(new(instrument.Name, value, ToDictionary(tags))));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(new(instrument.Name, value, ToDictionary(tags))));
        _listener.Start();
    }

    /// <summary>The measurements of <paramref name="instrument"/> whose tags include every pair of <paramref name="tags"/>.</summary>
    public IReadOnlyList<double> Values(string instrument, params (string Key, string Value)[] tags) =>
        [.. _measurements.Where(m => m.Instrument == instrument && tags.All(t => m.Tags.TryGetValue(t.Key, out var v) && Equals(v, t.Value))).Select(m => m.Value)];

    /// <summary>The sum of the measurements of a counter with these tags.</summary>
    public double Sum(string instrument, params (string Key, string Value)[] tags) => Values(instrument, tags).Sum();

    /// <summary>Reads the observable instruments now and returns what <paramref name="instrument"/> reported, by the value of tag <paramref name="byTag"/>.</summary>
    public IReadOnlyDictionary<string, double> Observe(string instrument, string byTag)
    {
        var before = _measurements.Count;
        _listener.RecordObservableInstruments();
        return _measurements.Skip(before)
            .Where(m => m.Instrument == instrument)
            .ToDictionary(m => (string)m.Tags[byTag]!, m => m.Value);
    }

    /// <summary>
    /// Waits until the measurements satisfy <paramref name="condition"/>. The worker records an episode's measurements
    /// after its checkpoint committed, so a client that saw a run finish may be a little ahead of them.
    /// </summary>
    public async Task WaitUntilAsync(Func<MetricCollector, bool> condition, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(condition);
        while (!condition(this))
        {
            await _recorded.WaitAsync(cancellationToken);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _listener.Dispose();
        _recorded.Dispose();
    }

    private void Add(Recorded measurement)
    {
        _measurements.Enqueue(measurement);
        _recorded.Release();
    }

    private static Dictionary<string, object?> ToDictionary(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var result = new Dictionary<string, object?>(tags.Length);
        foreach (var tag in tags)
        {
            result[tag.Key] = tag.Value;
        }

        return result;
    }

    private sealed record Recorded(string Instrument, double Value, Dictionary<string, object?> Tags);
}
