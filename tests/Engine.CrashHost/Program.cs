using System.Globalization;
using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Storage.Sqlite;
using Microsoft.DurableTask.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.Engine.CrashHost;

/// <summary>
/// <c>crashhost --db PATH --marker-dir DIR [--start ID [--locked]]</c>: opens the SQLite store at PATH, optionally
/// schedules <see cref="CrashWorkflow"/> (its steps inside a critical section on the counter entity with
/// <c>--locked</c>) as instance ID, prints <c>entity LOCKEDBY STATE</c> (the counter's lock holder and state as the
/// store has them before any work runs, <c>-</c> for none), runs a worker, prints <c>ready</c> once it runs, and prints
/// <c>completed STATUS</c> and <c>locks REQUESTED GRANTED UNLOCKED</c> (its history's lock events) per instance and a
/// final <c>entity</c> line when every instance is terminal. Without <c>--start</c> it waits for every instance
/// already in the store (a restart after a crash). Logs go to stderr; stdout carries only those lines.
/// Exit codes: 0 completed, 1 ended otherwise, 2 bad command line.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        string? db = null, markers = null, start = null;
        var locked = false;
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--db" when value is not null: db = value; i++; break;
                case "--marker-dir" when value is not null: markers = value; i++; break;
                case "--start" when value is not null: start = value; i++; break;
                case "--locked": locked = true; break;
                default:
                    await Console.Error.WriteLineAsync($"crashhost: unexpected '{args[i]}'; usage: --db PATH --marker-dir DIR [--start ID [--locked]]");
                    return 2;
            }
        }

        if (db is null || markers is null)
        {
            await Console.Error.WriteLineAsync("crashhost: --db and --marker-dir are required");
            return 2;
        }

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Information);
        builder.Services.AddDurableTaskEngine(engine =>
        {
            engine.UseSqlite(o =>
            {
                o.Path = db;
                o.Synchronous = SqliteSynchronousMode.Full;
            });
            engine.ConfigureWorker(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
            engine.AddTasks(tasks => CrashWorkflow.Register(tasks, markers));
        });

        using var host = builder.Build();
        var client = (StoreDurableTaskClient)host.Services.GetRequiredService<Microsoft.DurableTask.Client.DurableTaskClient>();
        if (start is not null)
        {
            var name = locked ? CrashWorkflow.LockedOrchestrationName : CrashWorkflow.OrchestrationName;
            await client.ScheduleNewOrchestrationInstanceAsync(name, new Microsoft.DurableTask.StartOrchestrationOptions { InstanceId = start });
        }

        await PrintEntityAsync(client);

        var waitFor = start is not null
            ? [start]
            : await client.GetAllInstancesAsync().Select(i => i.InstanceId).ToListAsync();
        await host.StartAsync();
        Console.Out.WriteLine("ready");

        var allCompleted = true;
        foreach (var id in waitFor)
        {
            var done = await client.WaitForInstanceCompletionRecordAsync(id);
            await Console.Error.WriteLineAsync($"crashhost: {id} is {done.Status}");
            Console.Out.WriteLine($"completed {done.Status}");
            var history = await client.GetHistoryAsync(id);
            int Count(HistoryEvent.EventTypeOneofCase kind) => history.Count(e => e.EventTypeCase == kind);
            Console.Out.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"locks {Count(HistoryEvent.EventTypeOneofCase.EntityLockRequested)} {Count(HistoryEvent.EventTypeOneofCase.EntityLockGranted)} {Count(HistoryEvent.EventTypeOneofCase.EntityUnlockSent)}"));
            allCompleted &= done.Status == OrchestrationRuntimeStatus.Completed;
        }

        await PrintEntityAsync(client);
        await host.StopAsync();
        return allCompleted ? 0 : 1;
    }

    private static async Task PrintEntityAsync(StoreDurableTaskClient client)
    {
        var entity = await client.Entities.GetEntityAsync(new Microsoft.DurableTask.Entities.EntityInstanceId(CrashWorkflow.CounterId.Name, CrashWorkflow.CounterId.Key));
        Console.Out.WriteLine($"entity {entity?.LockedBy ?? "-"} {entity?.State?.Value ?? "-"}");
    }
}
