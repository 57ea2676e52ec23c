using System.Diagnostics;
using KataWorkflows.Activities;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;
using KataWorkflows.Storage.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.Sandbox.CrashHost;

/// <summary>
/// <c>sandbox-crashhost --db PATH --run-root DIR [--faults SPEC] [--kill-at STEP:N:before|after] [--fail-at STEP:N]
/// [--call CreateSandbox|RunSandbox|CleanupContainer --sandbox ID --request-id R [--containers c1,c2] [--container C]]
/// [--wait-for INSTANCEID] [--timeout-seconds S]</c>.
/// Opens the SQLite store at PATH, runs the sandbox orchestrations and activities (mock hypervisor, noop agent, none
/// network, run directories under DIR) with the fault rules of SPEC (<c>FaultInjectionOptions.Spec</c>, e.g.
/// <c>sandbox.startVM:kill:1:after</c>) and the host's own crash points, prints <c>ready</c>, starts the call if asked
/// (<c>started INSTANCEID</c>), and once the awaited run is over and its sandbox unlocked prints its outcome:
/// <c>completed</c>, <c>compensated</c> or <c>failed KIND</c>. Logs go to stderr; stdout carries only those lines.
/// Exit codes: 0 completed, 1 another outcome, 2 bad command line, 3 timed out; 137 when a kill fault struck.
/// </summary>
internal static class Program
{
    private const string Usage =
        "usage: --db PATH --run-root DIR [--faults SPEC] [--kill-at STEP:N:before|after] [--fail-at STEP:N] "
        + "[--call CreateSandbox|RunSandbox|CleanupContainer --sandbox ID --request-id R [--containers c1,c2] [--container C]] "
        + "[--wait-for INSTANCEID] [--timeout-seconds S]";

    public static async Task<int> Main(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length || !options.TryAdd(args[i], args[i + 1]))
            {
                await Console.Error.WriteLineAsync($"crashhost: unexpected '{args[i]}'; {Usage}");
                return 2;
            }
        }

        string? Option(string name) => options.GetValueOrDefault(name);
        var db = Option("--db");
        var runRoot = Option("--run-root");
        var call = Option("--call");
        var waitFor = Option("--wait-for");
        CrashPoint? killAt, failAt;
        try
        {
            killAt = Option("--kill-at") is { } k ? CrashPoint.Parse(k) : null;
            failAt = Option("--fail-at") is { } f
                ? f.Split(':').Length == 2 ? CrashPoint.Parse(f) with { When = CrashPointWhen.After } : throw new FormatException($"--fail-at '{f}' is not STEP:N (a step fails after it ran)")
                : null;
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync($"crashhost: {ex.Message}");
            return 2;
        }

        if (db is null || runRoot is null || (call is null) == (waitFor is null)
            || (call is not null && (Option("--sandbox") is null || Option("--request-id") is null))
            || (call is not null && call is not (SandboxOrchestrations.CreateSandbox or SandboxOrchestrations.RunSandbox or SandboxOrchestrations.CleanupContainer)))
        {
            await Console.Error.WriteLineAsync($"crashhost: --db, --run-root and one of --call (with --sandbox and --request-id) or --wait-for are required; {Usage}");
            return 2;
        }

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSandboxDrivers(store => store.RunRoot = Path.GetFullPath(runRoot), faults => faults.Spec = Option("--faults"));
        builder.Services.AddDurableTaskEngine(engine =>
        {
            engine.UseSqlite(o =>
            {
                o.Path = db;
                o.Synchronous = SqliteSynchronousMode.Full;
            });
            engine.ConfigureWorker(o =>
            {
                o.ShutdownTimeout = TimeSpan.FromSeconds(2);
                o.ErrorBackoff = TimeSpan.FromMilliseconds(100);
            });
            engine.AddTasks(tasks => tasks.AddSandboxOrchestrations().AddSandboxActivities());
        });

        // Registered last, so the worker and the client get the store with the crash points.
        builder.Services.AddSingleton(sp => new CrashPointStore(
            new OrchestrationStore(sp.GetRequiredService<IStoreBackend>(), sp.GetRequiredService<TimeProvider>(), sp.GetService<ILogger<OrchestrationStore>>()),
            killAt,
            failAt,
            KillSelf));
        builder.Services.AddSingleton<IOrchestrationStore>(sp => sp.GetRequiredService<CrashPointStore>());

        using var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(int.Parse(Option("--timeout-seconds") ?? "60", System.Globalization.CultureInfo.InvariantCulture)));
        var client = host.Services.GetRequiredService<Microsoft.DurableTask.Client.DurableTaskClient>();
        var sandboxes = new SandboxClient(client);
        var store = host.Services.GetRequiredService<CrashPointStore>();

        // A driver fault rule's kill (`--faults STEP:kill:1:...`) waits for the start line as the host's own crash points do.
        host.Services.GetRequiredService<KataWorkflows.Activities.Faults.FaultInjector>().Struck += (_, strike) =>
        {
            if (strike.Rule.Mode == KataWorkflows.Activities.Faults.FaultMode.KillProcess)
            {
                AwaitStartReported();
            }
        };
        await host.StartAsync(timeout.Token);
        Console.Out.WriteLine("ready");

        try
        {
            if (call is not null)
            {
                var sandboxId = Option("--sandbox")!;
                var containers = (Option("--containers") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries);
                waitFor = await sandboxes.StartAsync(call, Request(call, sandboxId, containers, Option("--container")), Option("--request-id"), timeout.Token);
                Console.Out.WriteLine($"started {waitFor}");
            }

            StartReported.TrySetResult();

            var run = await client.WaitForInstanceCompletionAsync(waitFor!, getInputsAndOutputs: true, timeout.Token);
            await WaitForUnlockAsync(client, store, SandboxOf(waitFor!), timeout.Token);
            string outcome;
            try
            {
                sandboxes.Outcome(run);
                outcome = "completed";
            }
            catch (SandboxCallException ex)
            {
                outcome = ex.Kind == SandboxErrorKind.Compensated ? "compensated" : $"failed {ex.Kind}";
                await Console.Error.WriteLineAsync($"crashhost: {waitFor} ended {ex.Kind}: {ex.Message}");
            }

            Console.Out.WriteLine(outcome);
            await host.StopAsync(CancellationToken.None);
            return outcome == "completed" ? 0 : 1;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"crashhost: {waitFor} did not end in time");
            Console.Out.WriteLine("timeout");
            return 3;
        }
    }

    private static SandboxRequest Request(string call, string sandboxId, string[] containers, string? container) => call switch
    {
        SandboxOrchestrations.CleanupContainer => new SandboxRequest { SandboxId = sandboxId, ContainerId = container },
        _ => new SandboxRequest
        {
            SandboxId = sandboxId,
            Config = new SandboxConfig
            {
                Id = sandboxId,
                HypervisorType = "mock",
                AgentType = "noop",
                HypervisorConfig = new HypervisorConfig { KernelPath = "/usr/share/kata/vmlinuz", ImagePath = "/usr/share/kata/kata.img" },
                NetworkConfig = new NetworkConfig { InterworkingModel = "none" },
                Containers = [.. containers.Select(c => new ContainerConfig { Id = c, RootFs = $"/run/rootfs/{c}", Cmd = new Cmd { Args = ["/bin/sh"] } })],
            },
        },
    };

    /// <summary>The sandbox of a run: instance ids are <c>operation:sandbox:request</c>.</summary>
    private static string SandboxOf(string instanceId) => instanceId.Split(':')[1];

    /// <summary>
    /// A run ends before its sandbox's entity processes the unlock it sent; the host waits for it, so what it leaves in
    /// the store is settled.
    /// </summary>
    private static async Task WaitForUnlockAsync(Microsoft.DurableTask.Client.DurableTaskClient client, CrashPointStore store, string sandboxId, CancellationToken cancellationToken)
    {
        while (true)
        {
            var changed = store.NextEntityChange();
            var id = SandboxEntity.IdFor(sandboxId);
            var entity = await client.Entities.GetEntityAsync(new Microsoft.DurableTask.Entities.EntityInstanceId(id.Name, id.Key), includeState: false, cancellationToken);
            if (entity?.LockedBy is null)
            {
                return;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Set once the call's <c>started</c> line is out (at once for <c>--wait-for</c>). The run's first step can reach its
    /// kill point before the start call has returned to this code (the worker takes the step right after the commit
    /// the start waits for), and the test reads that line to know the first host started the call.
    /// </summary>
    private static readonly TaskCompletionSource StartReported = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Blocks the thread that reached a kill point until the start line is out, so the step goes no further than the point.</summary>
    private static void AwaitStartReported() => StartReported.Task.Wait(TimeSpan.FromSeconds(30));

    private static void KillSelf(string where)
    {
        AwaitStartReported();
        Console.Error.WriteLine($"crashhost: killing this process with SIGKILL at {where}");
        Console.Out.Flush();
        Console.Error.Flush();
        using var self = Process.GetCurrentProcess();
        self.Kill();
    }
}
