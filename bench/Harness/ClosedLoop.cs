using System.Diagnostics;

namespace KataWorkflows.Bench.Harness;

/// <summary>
/// Runs operations from a fixed number of client loops, each starting its next operation as soon as its last one
/// finished (a closed loop), and times every operation.
/// </summary>
internal static class ClosedLoop
{
    /// <summary>How long one operation may take before the run is declared hung.</summary>
    public static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs operations 0..<paramref name="total"/>-1 from <paramref name="concurrency"/> loops. The first failure
    /// stops every loop and is rethrown as a <see cref="BenchmarkFailedException"/>.
    /// </summary>
    /// <param name="label">Names the phase in the progress lines on stderr.</param>
    /// <param name="total">How many operations in all.</param>
    /// <param name="concurrency">How many loops.</param>
    /// <param name="operation">One operation: its index and a token that fires on timeout or failure elsewhere.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    public static async Task<LoopResult> RunAsync(
        string label, int total, int concurrency, Func<int, CancellationToken, Task> operation, CancellationToken cancellationToken)
    {
        var latencies = new double[total];
        var (completed, elapsed) = await RunLoopsAsync(
            label, (index, _) => index < total, Math.Min(concurrency, total), operation, (index, ms) => latencies[index] = ms, $"/{total}", cancellationToken);
        return new LoopResult(completed, elapsed, new LatencyStats(latencies));
    }

    /// <summary>
    /// The warm-up: runs at least <paramref name="minimum"/> operations and goes on until <paramref name="duration"/>
    /// has passed, so the JIT has compiled the hot paths with their final tier before anything is measured.
    /// </summary>
    /// <returns>The operations run and the time they took.</returns>
    public static async Task<(int Completed, TimeSpan Elapsed)> WarmUpAsync(
        string label, int minimum, TimeSpan duration, int concurrency, Func<int, CancellationToken, Task> operation, CancellationToken cancellationToken)
    {
        if (minimum == 0 && duration <= TimeSpan.Zero)
        {
            return (0, TimeSpan.Zero);
        }

        return await RunLoopsAsync(label, (index, elapsed) => index < minimum || elapsed < duration, concurrency, operation, null, string.Empty, cancellationToken);
    }

    private static async Task<(int Completed, TimeSpan Elapsed)> RunLoopsAsync(
        string label,
        Func<int, TimeSpan, bool> more,
        int concurrency,
        Func<int, CancellationToken, Task> operation,
        Action<int, double>? record,
        string ofTotal,
        CancellationToken cancellationToken)
    {
        var next = -1;
        var completed = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var started = Stopwatch.GetTimestamp();

        async Task LoopAsync()
        {
            int index;
            while (more(index = Interlocked.Increment(ref next), Stopwatch.GetElapsedTime(started)))
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                timeout.CancelAfter(OperationTimeout);
                var begin = Stopwatch.GetTimestamp();
                try
                {
                    await operation(index, timeout.Token);
                }
                catch (OperationCanceledException ex) when (timeout.IsCancellationRequested && !stop.IsCancellationRequested)
                {
                    throw new BenchmarkFailedException($"{label}: operation {index} did not finish within {OperationTimeout.TotalSeconds:0} s: {ex.Message}");
                }

                record?.Invoke(index, Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
                Interlocked.Increment(ref completed);
            }
        }

        var loops = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            try
            {
                await LoopAsync();
            }
            catch
            {
                await stop.CancelAsync();
                throw;
            }
        })).ToArray();

        var all = Task.WhenAll(loops);
        using (var progress = new PeriodicTimer(ProgressInterval))
        {
            var tick = progress.WaitForNextTickAsync(CancellationToken.None).AsTask();
            while (await Task.WhenAny(all, tick) == tick)
            {
                var done = Volatile.Read(ref completed);
                var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                Console.Error.WriteLine($"{label}: {done}{ofTotal} done, {done / seconds:0.0}/s");
                tick = progress.WaitForNextTickAsync(CancellationToken.None).AsTask();
            }
        }

        try
        {
            await all;
        }
        catch (Exception) when (all.Exception is { } aggregate)
        {
            // Report the root cause, not the cancellations it caused in the other loops.
            var cause = aggregate.InnerExceptions.FirstOrDefault(e => e is not OperationCanceledException) ?? aggregate.InnerExceptions[0];
            if (cause is BenchmarkFailedException or OperationCanceledException)
            {
                throw cause;
            }

            throw new BenchmarkFailedException($"{label}: {cause.Message}", cause);
        }

        return (Volatile.Read(ref completed), Stopwatch.GetElapsedTime(started));
    }
}
