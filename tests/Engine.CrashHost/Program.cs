using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Storage.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.Engine.CrashHost;

/// <summary>
/// <c>crashhost --db PATH --marker-dir DIR [--start ID]</c>: opens the SQLite store at PATH, optionally schedules
/// <see cref="CrashWorkflow"/> as instance ID, runs a worker, prints <c>ready</c> once it runs, and prints
/// <c>completed STATUS</c> and exits when the instance is terminal. Without <c>--start</c> it waits for every instance
/// already in the store (a restart after a crash). Logs go to stderr; stdout carries only those lines.
/// Exit codes: 0 completed, 1 ended otherwise, 2 bad command line.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        string? db = null, markers = null, start = null;
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--db" when value is not null: db = value; i++; break;
                case "--marker-dir" when value is not null: markers = value; i++; break;
                case "--start" when value is not null: start = value; i++; break;
                default:
                    await Console.Error.WriteLineAsync($"crashhost: unexpected '{args[i]}'; usage: --db PATH --marker-dir DIR [--start ID]");
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
            CrashWorkflow.Register(engine.Registry, markers);
        });

        using var host = builder.Build();
        var client = host.Services.GetRequiredService<DurableTaskClient>();
        if (start is not null)
        {
            await client.ScheduleNewOrchestrationInstanceAsync(CrashWorkflow.OrchestrationName, options: new StartOrchestrationOptions { InstanceId = start });
        }

        var waitFor = start is not null
            ? [start]
            : await client.GetAllInstancesAsync(new OrchestrationQuery()).Select(i => i.InstanceId).ToListAsync();
        await host.StartAsync();
        Console.Out.WriteLine("ready");

        var allCompleted = true;
        foreach (var id in waitFor)
        {
            var done = await client.WaitForInstanceCompletionAsync(id);
            await Console.Error.WriteLineAsync($"crashhost: {id} is {done.Status}");
            Console.Out.WriteLine($"completed {done.Status}");
            allCompleted &= done.Status == OrchestrationRuntimeStatus.Completed;
        }

        await host.StopAsync();
        return allCompleted ? 0 : 1;
    }
}
