using System.Globalization;
using KataWorkflows.Bench.Benchmarks;
using KataWorkflows.TestSupport;
using Microsoft.DurableTask.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// The remote worker of `bench engine --worker remote`, started by bench itself:
//   KataWorkflows.Bench.Worker --socket PATH --concurrency C
// runs the official gRPC worker with bench engine's orchestration and activity against the host listening on PATH,
// C work items of each kind at once (and at least the SDK's defaults), prints "started PID" on stdout once its host
// runs, and stops when its standard input closes (bench closes it, or bench died) or on SIGTERM.
// Exit codes: 0 stopped, 1 failed, 2 bad command line.
string? socketPath = null;
var concurrency = 0;
for (var i = 0; i < args.Length; i++)
{
    var value = i + 1 < args.Length ? args[i + 1] : null;
    switch (args[i])
    {
        case "--socket" when value is not null:
            socketPath = value;
            i++;
            break;
        case "--concurrency" when value is not null && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var c) && c > 0:
            concurrency = c;
            i++;
            break;
        default:
            await Console.Error.WriteLineAsync($"bench worker: bad argument '{args[i]}' (usage: --socket PATH --concurrency C, C a positive integer)");
            return 2;
    }
}

if (socketPath is null || concurrency == 0)
{
    await Console.Error.WriteLineAsync("bench worker: --socket PATH and --concurrency C are required");
    return 2;
}

var builder = Host.CreateApplicationBuilder();
builder.Logging.ClearProviders();
builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
using var channel = UnixSocketChannel.Create(socketPath);
builder.Services.AddDurableTaskWorker(worker =>
{
    worker.AddTasks(registry => FourSteps.Register(registry));
    worker.UseGrpc(channel);
    worker.Configure(options =>
    {
        options.Concurrency.MaximumConcurrentOrchestrationWorkItems = Math.Max(concurrency, options.Concurrency.MaximumConcurrentOrchestrationWorkItems);
        options.Concurrency.MaximumConcurrentActivityWorkItems = Math.Max(concurrency, options.Concurrency.MaximumConcurrentActivityWorkItems);
    });
});

try
{
    using var host = builder.Build();
    await host.StartAsync();
    Console.WriteLine($"started {Environment.ProcessId}");
    var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();

    // Standard input closing is the parent's word to stop (it also closes when the parent dies).
    var stdinClosed = Task.Run(async () =>
    {
        using var stdin = Console.OpenStandardInput();
        var buffer = new byte[64];
        while (await stdin.ReadAsync(buffer) > 0)
        {
        }
    });
    var stopping = Task.Delay(Timeout.Infinite, lifetime.ApplicationStopping);
    await Task.WhenAny(stdinClosed, stopping);
    await host.StopAsync(TimeSpan.FromSeconds(10));
    return 0;
}
#pragma warning disable CA1031 // The worker's last resort: say why in one line; bench reports it with the exit code.
catch (Exception ex)
#pragma warning restore CA1031
{
    await Console.Error.WriteLineAsync($"bench worker: failed: {ex.GetType().Name}: {ex.Message}");
    return 1;
}
