using System.Collections.Concurrent;
using KataWorkflows.Engine.Tests.Harness;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Engine.Tests;

public sealed partial class OrchestrationContextTests
{
    [LoggerMessage(1, LogLevel.Information, "at {Point}")]
    private static partial void Reached(ILogger logger, string point);

    private sealed record Pass(string Point, bool IsReplaying, Guid Guid, DateTime Now);

    [Fact]
    public async Task Guid_time_and_replay_flag_are_those_of_the_recorded_episode_on_every_replay()
    {
        var passes = new ConcurrentQueue<Pass>();
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            r.AddActivityFunc<string, string>("echo", (ctx, x) => Task.FromResult(x));
            r.AddOrchestratorFunc<string?, string>("observed", async (ctx, _) =>
            {
                var log = ctx.CreateReplaySafeLogger("observed");
                var first = ctx.NewGuid();
                passes.Enqueue(new Pass("A", ctx.IsReplaying, first, ctx.CurrentUtcDateTime));
                Reached(log, "A");
                ctx.SetCustomStatus("step 1");
                var echoed = await ctx.CallActivityAsync<string>("echo", first.ToString());
                var second = ctx.NewGuid();
                passes.Enqueue(new Pass("B", ctx.IsReplaying, second, ctx.CurrentUtcDateTime));
                Reached(log, "B");
                ctx.SetCustomStatus("step 2");
                await ctx.WaitForExternalEvent<string>("continue");
                passes.Enqueue(new Pass("C", ctx.IsReplaying, Guid.Empty, ctx.CurrentUtcDateTime));
                Reached(log, "C");
                return echoed;
            });

            // Every episode replays from the top here; with sessions the code would run each point once.
        }, o => o.ConfigureWorker = w => w.MaxOrchestrationSessions = 0);
        var id = await harness.ScheduleAsync("observed", null, "observed-1");
        var waiting = await harness.WaitForInstanceAsync(id, m => m.SerializedCustomStatus == "\"step 2\"", "to reach step 2");
        Assert.Equal(OrchestrationRuntimeStatus.Running, waiting.Status);

        await harness.Client.RaiseEventAsync(id, "continue", "go", harness.Token);
        var done = await harness.WaitForCompletionAsync(id);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal("\"step 2\"", done.SerializedCustomStatus);
        var history = await harness.HistoryAsync(id);
        var episode1 = history.EpisodeTime(history.IndexOf(Kind.ExecutionStarted));
        var episode2 = history.EpisodeTime(history.IndexOf(Kind.TaskCompleted));
        var episode3 = history.EpisodeTime(history.IndexOf(Kind.EventRaised));

        // Three episodes: A runs in all three, B in the last two, C once. Only the first run of each is live.
        var a = passes.Where(p => p.Point == "A").ToArray();
        var b = passes.Where(p => p.Point == "B").ToArray();
        var c = passes.Where(p => p.Point == "C").ToArray();
        Assert.Equal([false, true, true], a.Select(p => p.IsReplaying));
        Assert.Equal([false, true], b.Select(p => p.IsReplaying));
        Assert.Equal([false], c.Select(p => p.IsReplaying));
        Assert.Single(a.Select(p => p.Guid).Distinct());
        Assert.Single(b.Select(p => p.Guid).Distinct());
        Assert.NotEqual(a[0].Guid, b[0].Guid);
        Assert.All(a, p => Assert.Equal(episode1, p.Now));
        Assert.All(b, p => Assert.Equal(episode2, p.Now));
        Assert.Equal(episode3, c[0].Now);

        // The first GUID went out as the activity's input and came back as the output.
        Assert.Equal($"\"{a[0].Guid}\"", history[history.IndexOf(Kind.TaskScheduled)].TaskScheduled.Input);
        Assert.Equal(a[0].Guid.ToString(), done.Output<string>());

        // The replay-safe logger wrote each line once, although the code passed A three times.
        var lines = harness.Logs.Lines.Where(l => l.Category == "observed").Select(l => l.Message).ToArray();
        Assert.Equal(["at A", "at B", "at C"], lines);
    }

    [Fact]
    public async Task NewGuid_differs_between_instances_and_calls_but_not_between_runs_of_the_same_episode()
    {
        var guids = new ConcurrentQueue<(string Instance, Guid First, Guid Second)>();
        await using var harness = await EngineHarness.StartAsync(r =>
            r.AddOrchestratorFunc<string?, string>("ids", (ctx, _) =>
            {
                var pair = (ctx.InstanceId, ctx.NewGuid(), ctx.NewGuid());
                guids.Enqueue(pair);
                return Task.FromResult(pair.Item2.ToString());
            }));

        var one = await harness.RunAsync("ids", null, "ids-1");
        var two = await harness.RunAsync("ids", null, "ids-2");

        var all = guids.ToArray();
        Assert.Equal(2, all.Length);
        Assert.NotEqual(all[0].First, all[0].Second);
        Assert.NotEqual(all[0].First, all[1].First);
        Assert.Equal(all.Single(g => g.Instance == "ids-1").First.ToString(), one.Output<string>());
        Assert.Equal(all.Single(g => g.Instance == "ids-2").First.ToString(), two.Output<string>());
        Assert.All(all, g => Assert.Equal(5, g.First.Version));
    }

    [Fact]
    public async Task Custom_status_is_visible_to_clients_while_the_instance_runs()
    {
        await using var harness = await EngineHarness.StartAsync(r =>
            r.AddOrchestratorFunc<string?, int>("progress", async (ctx, _) =>
            {
                for (var step = 1; step <= 3; step++)
                {
                    ctx.SetCustomStatus(new { step, of = 3 });
                    await ctx.WaitForExternalEvent<string>("next");
                }

                return 3;
            }));
        var id = await harness.ScheduleAsync("progress");

        for (var step = 1; step <= 3; step++)
        {
            var expected = $"{{\"step\":{step},\"of\":3}}";
            var seen = await harness.WaitForInstanceAsync(id, m => m.SerializedCustomStatus == expected, $"to report step {step}");
            Assert.Equal(OrchestrationRuntimeStatus.Running, seen.Status);
            await harness.Client.RaiseEventAsync(id, "next", null, harness.Token);
        }

        var done = await harness.WaitForCompletionAsync(id);
        Assert.Equal("{\"step\":3,\"of\":3}", done.SerializedCustomStatus);
        Assert.Null((await harness.Client.GetInstanceRecordAsync(id, getInputsAndOutputs: false, harness.Token))?.SerializedCustomStatus);
    }

    [Fact]
    public async Task Timer_created_while_the_dispatcher_sleeps_wakes_it_and_fires_when_due()
    {
        // Frozen time: the dispatcher's sleep ends only when the clock is advanced past its deadline, or when the
        // store signals it. The timer is due 100 ms after its episode, the dispatcher's deadline (next lease check)
        // is 1 s away: advancing 100 ms fires the timer only if creating it re-armed the sleeping dispatcher.
        var time = new FakeTimeProvider(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var harness = await EngineHarness.StartAsync(
            r => r.AddOrchestratorFunc<string?, string>("sleeper", async (ctx, _) =>
            {
                await ctx.CreateTimer(TimeSpan.FromMilliseconds(100), CancellationToken.None);
                return "awake";
            }),
            o =>
            {
                o.EngineTime = time;
                o.Timeout = TimeSpan.FromSeconds(10);
                o.ConfigureWorker = w => w.IdlePollInterval = TimeSpan.FromMinutes(10);
            });
        harness.Observed.BeforeOrchestrationCommit = async (item, checkpoint) =>
        {
            if (checkpoint.SelfMessages.Any(m => m.VisibleAt is not null))
            {
                await harness.Observed.WaitForDispatcherAsleepAsync(item, harness.Token);
            }
        };
        var id = await harness.ScheduleAsync("sleeper");
        var created = await harness.WaitForHistoryAsync(id, h => h.IndexOf(Kind.TimerCreated) >= 0, "to create the timer");
        var fireAt = created[created.IndexOf(Kind.TimerCreated)].TimerCreated.FireAt.ToDateTime();
        Assert.Equal(time.GetUtcNow().UtcDateTime.AddMilliseconds(100), fireAt);

        time.Advance(TimeSpan.FromMilliseconds(100));
        var done = await harness.WaitForCompletionAsync(id);

        Assert.Equal("awake", done.Output<string>());
        var history = await harness.HistoryAsync(id);
        Assert.Equal(fireAt, history.EpisodeTime(history.IndexOf(Kind.TimerFired)));
    }
}
