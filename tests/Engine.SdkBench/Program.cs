// Microseconds per orchestration episode through the SDK execution core (src/Engine/Sdk), no store involved:
// an orchestration that calls N activities one after another runs its N + 1 episodes, each given the history a store
// would have committed, once with a full replay per episode and once through an extended session.
//
//   dotnet run -c Release --project tests/Engine.SdkBench [activities=10] [runs=2000]
using System.Diagnostics;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using KataWorkflows.Engine.Sdk;
using Microsoft.DurableTask.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Dt = Microsoft.DurableTask;
using DtWorker = Microsoft.DurableTask.Worker;

var activities = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
var runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2000;

var registry = new Dt.DurableTaskRegistry();
registry.AddOrchestratorFunc<int, int>("Chain", async (ctx, x) =>
{
    for (var i = 0; i < activities; i++)
    {
        x = await ctx.CallActivityAsync<int>("Inc", x);
    }

    return x;
});
var runner = new SdkOrchestrationRunner(
    SdkTaskFactory.FromRegistry(registry), new ServiceCollection().BuildServiceProvider(), new DtWorker.DurableTaskWorkerOptions());

var t0 = new DateTime(2026, 3, 1, 12, 0, 0, DateTimeKind.Utc);

// One run of the orchestration, episode by episode; the history grows as a store would commit it.
void RunOnce(bool session)
{
    var live = session ? runner.CreateSession() : null;
    List<HistoryEvent> history = [];
    var now = t0;
    List<HistoryEvent> next =
    [
        new() { EventId = -1, Timestamp = Timestamp.FromDateTime(now), OrchestratorStarted = new() },
        new()
        {
            EventId = -1,
            Timestamp = Timestamp.FromDateTime(now),
            ExecutionStarted = new ExecutionStartedEvent { Name = "Chain", Input = "0", OrchestrationInstance = new OrchestrationInstance { InstanceId = "i1", ExecutionId = "e1" } },
        },
    ];
    for (var episode = 0; ; episode++)
    {
        var result = live is null ? runner.Run(history, next) : live.RunEpisode(history, next);
        history.AddRange(next);
        var action = result.Actions[0];
        if (action.CompleteOrchestration is { } done)
        {
            if (done.Result != activities.ToString(CultureInfo.InvariantCulture))
            {
                throw new InvalidOperationException($"The chain ended with {done.Result}, not {activities}.");
            }

            return;
        }

        var stamp = Timestamp.FromDateTime(now);
        history.Add(new HistoryEvent { EventId = action.Id, Timestamp = stamp, TaskScheduled = new TaskScheduledEvent { Name = "Inc", Input = action.ScheduleTask.Input } });
        history.Add(new HistoryEvent { EventId = -1, Timestamp = stamp, OrchestratorCompleted = new() });
        now = now.AddMilliseconds(1);
        next =
        [
            new() { EventId = -1, Timestamp = Timestamp.FromDateTime(now), OrchestratorStarted = new() },
            new()
            {
                EventId = -1,
                Timestamp = Timestamp.FromDateTime(now),
                TaskCompleted = new TaskCompletedEvent { TaskScheduledId = action.Id, Result = (episode + 1).ToString(CultureInfo.InvariantCulture) },
            },
        ];
    }
}

double Measure(bool session)
{
    for (var i = 0; i < Math.Max(50, runs / 10); i++)
    {
        RunOnce(session);
    }

    var gcBefore = GC.CollectionCount(0);
    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var watch = Stopwatch.StartNew();
    for (var i = 0; i < runs; i++)
    {
        RunOnce(session);
    }

    watch.Stop();
    var episodes = (double)runs * (activities + 1);
    var perEpisode = watch.Elapsed.TotalMicroseconds / episodes;

    // CPU time too: on a shared machine the wall clock also counts the time other processes had the cores.
    var cpuPerEpisode = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMicroseconds / episodes;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{(session ? "extended session" : "full replay     ")}: {perEpisode,8:F1} us/episode wall, {cpuPerEpisode,8:F1} us/episode CPU, {perEpisode * (activities + 1) / 1000,7:F3} ms/run ({activities + 1} episodes, {runs} runs, {GC.CollectionCount(0) - gcBefore} gen0 GCs)"));
    return perEpisode;
}

Console.WriteLine($"{activities} activities in a row, {Environment.ProcessorCount} cores");
Measure(session: false);
Measure(session: true);
