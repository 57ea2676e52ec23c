using KataWorkflows.Engine.Tests.Harness;

namespace KataWorkflows.Engine.Tests;

/// <summary>
/// A task that finishes a step runs the step it made ready (the activity its episode scheduled, the episode its
/// activity's result readied) when a slot of that kind is free: the limits hold for both, whoever took the work.
/// </summary>
public sealed class HandOnTests
{
    private sealed class Concurrency
    {
        private int _now;
        private int _max;

        public int Max => Volatile.Read(ref _max);

        public async Task<int> RunAsync(int x)
        {
            var now = Interlocked.Increment(ref _now);
            int max;
            while ((max = Volatile.Read(ref _max)) < now && Interlocked.CompareExchange(ref _max, now, max) != max)
            {
            }

            await Task.Delay(1);
            Interlocked.Decrement(ref _now);
            return x + 1;
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 3)]
    public async Task Many_runs_of_steps_finish_within_the_slot_limits(int orchestrations, int activities)
    {
        var concurrency = new Concurrency();
        await using var harness = await EngineHarness.StartAsync(
            r =>
            {
                r.AddActivityFunc<int, int>("step", (_, x) => concurrency.RunAsync(x));
                r.AddOrchestratorFunc<int, int>("steps", async (ctx, x) =>
                {
                    for (var i = 0; i < 5; i++)
                    {
                        x = await ctx.CallActivityAsync<int>("step", x);
                    }

                    return x;
                });
            },
            o => o.ConfigureWorker = w =>
            {
                w.MaxConcurrentOrchestrations = orchestrations;
                w.MaxConcurrentActivities = activities;
            });

        var ids = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => harness.ScheduleAsync("steps", i * 10, $"steps-{i}")));
        foreach (var (id, i) in ids.Select((id, i) => (id, i)))
        {
            var done = await harness.WaitForCompletionAsync(id);
            Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
            Assert.Equal((i * 10) + 5, done.Output<int>());
        }

        Assert.InRange(concurrency.Max, 1, activities);
    }
}
