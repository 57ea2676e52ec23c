using System.Diagnostics;
using KataWorkflows.Activities;
using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Activities.Agents.Noop;
using KataWorkflows.Activities.Drivers;
using KataWorkflows.Activities.Hypervisors.Mock;
using KataWorkflows.Activities.Hypervisors.Qemu;
using KataWorkflows.Activities.Networks.None;
using KataWorkflows.Activities.Networks.TcFilter;
using KataWorkflows.Activities.Store;
using KataWorkflows.Bench.Cli;
using KataWorkflows.Bench.Harness;
using KataWorkflows.Engine;
using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataWorkflows.Bench.Benchmarks;

/// <summary>
/// Full sandbox lifecycles: clients in closed loops each run CreateSandbox, StartSandbox, StopSandbox and DeleteSandbox
/// on a sandbox of their own (one container) through the sandbox client, and time the four calls together. The same
/// driver calls are then made directly, in the order the activities make them and without the engine, so the cost of
/// durability (the store, the entity lock, the episodes) is visible. <c>--hypervisor mock</c> (the default) runs the
/// mock hypervisor, the noop agent and no interworking; <c>--hypervisor qemu</c> boots real sandboxes: QEMU with the
/// guest image, the Kata agent in the guest and a tcfilter network namespace (root, QEMU and iproute2 needed).
/// </summary>
internal sealed class LifecycleBenchmark : IBenchmarkCommand
{
    /// <summary>The command name.</summary>
    public const string CommandName = "lifecycle";

    private static readonly string[] Options =
        ["--count", "--concurrency", "--run-root", "--hypervisor", "--guest", "--accelerator", .. BenchWarmup.OptionNames, .. BenchStoreOptions.OptionNames];

    // Kata keeps its run root, /run/vc, on the tmpfs systemd mounts at /run: the run directories of VMs that a reboot
    // ends would mean nothing after it. /dev/shm is the tmpfs a benchmark may use without root.
    private const string TmpfsDirectory = "/dev/shm";

    public string Name => CommandName;

    public string Summary => "sandbox lifecycles (create, start, stop, delete) through the engine vs. the same driver calls made directly";

    public string Usage =>
        $"""
          --count N                  lifecycles measured (default 500; 5 with --hypervisor qemu)
          --concurrency C            client loops, each running one sandbox's lifecycle at a time (default 8; 1 with qemu;
                                     with qemu and 1, engine and direct lifecycles alternate)
          --hypervisor mock|qemu     mock: mock hypervisor, noop agent, no network (default); qemu: real sandboxes
                                     (QEMU, the Kata agent in the guest image, a tcfilter netns; needs root)
          --guest DIR                with qemu: the guest image (guest/build.sh's output; default $KATA_GUEST_DIR or
                                     ~/.cache/kata-workflows/guest)
          --accelerator auto|kvm|tcg with qemu: how the vCPUs run (default auto: KVM when a probe boot works)
        {BenchWarmup.Usage("lifecycles (and as many direct ones)", 50)}
          --run-root DIR             parent of the run root (persist.json files); default /dev/shm when it is a
                                     tmpfs, as Kata's /run/vc is, else the temporary directory. The JSON line
                                     names its file system (runRootFs): on a disk every persist.json is fsynced.
        {BenchStoreOptions.Usage}
        """;

    public async Task<object> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var options = BenchArguments.Parse(CommandName, args, Options);
        var drivers = options.Text("--hypervisor", "mock") switch
        {
            "mock" => (LifecycleDrivers?)null,
            "qemu" => LifecycleDrivers.Qemu(options.Text("--guest") ?? QemuHypervisorOptions.DefaultGuestImageDirectory(), options.Text("--accelerator", "auto")!),
            var other => throw new UsageException($"--hypervisor must be mock or qemu, got '{other}'"),
        };
        var count = options.PositiveInt("--count", drivers is null ? 500 : 5);
        var concurrency = options.PositiveInt("--concurrency", drivers is null ? 8 : 1);
        var warmup = BenchWarmup.From(options, Math.Min(drivers is null ? 50 : 1, count));
        var store = BenchStoreOptions.From(options);
        var runRootParent = options.Text("--run-root") ?? DefaultRunRootParent();
        if (!Directory.Exists(runRootParent))
        {
            throw new UsageException($"--run-root: the directory '{runRootParent}' does not exist");
        }

        await using var host = await LifecycleHost.StartAsync(store, concurrency, Path.GetFullPath(runRootParent), drivers, cancellationToken);
        Console.Error.WriteLine($"{CommandName}: {host.DriversName}, store {host.Description}, {count} lifecycles from {concurrency} clients after {warmup}; run root {host.RunRoot}");

        var warmedUp = await warmup.RunAsync("warm-up", concurrency, (i, token) => host.LifecycleAsync($"warm-{i}", token), cancellationToken);

        // With one client, each lifecycle's time outside its driver calls is the engine's (and the activities' own code).
        var outside = new List<(double Wall, double Driver)>();
        async Task EngineLifecycleAsync(string sandboxId, CancellationToken token)
        {
            var driverBefore = host.Clock.Elapsed;
            var started = Stopwatch.GetTimestamp();
            await host.LifecycleAsync(sandboxId, token);
            var wall = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var driver = (host.Clock.Elapsed - driverBefore).TotalMilliseconds;
            lock (outside)
            {
                outside.Add((wall, driver));
            }
        }

        // Real VMs boot in 10-20 s under TCG, and how long depends on the machine's load of the moment: with one client
        // the engine's and the direct lifecycles alternate, so both see the same moments.
        var interleave = drivers is not null && concurrency == 1;
        await new BenchWarmup(warmup.Minimum, TimeSpan.Zero).RunAsync(
            "direct warm-up", concurrency, (i, token) => host.DirectLifecycleAsync($"direct-warm-{i}", token), cancellationToken);
        LoopResult engine, direct;
        Dictionary<string, double> engineMethods, directMethods;
        if (interleave)
        {
            var engineTimes = new List<double>();
            var directTimes = new List<double>();
            var engineSum = new Dictionary<string, (int Calls, TimeSpan Time)>(StringComparer.Ordinal);
            var directSum = new Dictionary<string, (int Calls, TimeSpan Time)>(StringComparer.Ordinal);
            var engineElapsed = TimeSpan.Zero;
            var directElapsed = TimeSpan.Zero;
            for (var i = 0; i < count; i++)
            {
                var before = host.Clock.ByMethod();
                var started = Stopwatch.GetTimestamp();
                await EngineLifecycleAsync($"sb-{i}", cancellationToken);
                var took = Stopwatch.GetElapsedTime(started);
                engineTimes.Add(took.TotalMilliseconds);
                engineElapsed += took;
                DriverClock.AddDelta(engineSum, before, host.Clock.ByMethod());

                before = host.Clock.ByMethod();
                started = Stopwatch.GetTimestamp();
                await host.DirectLifecycleAsync($"direct-{i}", cancellationToken);
                took = Stopwatch.GetElapsedTime(started);
                directTimes.Add(took.TotalMilliseconds);
                directElapsed += took;
                DriverClock.AddDelta(directSum, before, host.Clock.ByMethod());
                Console.Error.WriteLine($"{CommandName}: pair {i + 1}/{count}: engine {engineTimes[^1]:F0} ms, direct {directTimes[^1]:F0} ms");
            }

            engine = new LoopResult(count, engineElapsed, new LatencyStats(engineTimes));
            direct = new LoopResult(count, directElapsed, new LatencyStats(directTimes));
            engineMethods = DriverClock.PerLifecycle(new Dictionary<string, (int, TimeSpan)>(), engineSum, count);
            directMethods = DriverClock.PerLifecycle(new Dictionary<string, (int, TimeSpan)>(), directSum, count);
        }
        else
        {
            var engineMethodsBefore = host.Clock.ByMethod();
            engine = await ClosedLoop.RunAsync(CommandName, count, concurrency, (i, token) => EngineLifecycleAsync($"sb-{i}", token), cancellationToken);
            engineMethods = DriverClock.PerLifecycle(engineMethodsBefore, host.Clock.ByMethod(), count);
            var directMethodsBefore = host.Clock.ByMethod();
            direct = await ClosedLoop.RunAsync("direct", count, concurrency, (i, token) => host.DirectLifecycleAsync($"direct-{i}", token), cancellationToken);
            directMethods = DriverClock.PerLifecycle(directMethodsBefore, host.Clock.ByMethod(), count);
        }

        var inLifecycle = concurrency == 1 && outside.Count > 0
            ? new InLifecycleShare(
                Math.Round(Median(outside.Select(o => 100 * (o.Wall - o.Driver) / o.Wall)), 3),
                Math.Round(outside.Select(o => 100 * (o.Wall - o.Driver) / o.Wall).Max(), 3),
                Math.Round(Median(outside.Select(o => o.Wall - o.Driver)), 2),
                Math.Round(Median(outside.Select(o => o.Driver)), 2))
            : null;

        // One more lifecycle, alone, tells what one costs: its commits, and from its history its episodes and steps.
        var commitsBefore = host.Commits;
        await host.LifecycleAsync("sb-shape", cancellationToken);
        var commits = host.Commits - commitsBefore;
        var shape = await host.ShapeAsync("sb-shape", cancellationToken);
        await host.AssertNothingLeftAsync(cancellationToken);

        return new LifecycleResult
        {
            Hypervisor = drivers is null ? MockHypervisor.TypeName : QemuHypervisor.TypeName,
            Accelerator = drivers?.Accelerator,
            Interleaved = interleave,
            EngineSharePercent = engine.Latency.P50 > 0 ? Math.Round(100 * (engine.Latency.P50 - direct.Latency.P50) / engine.Latency.P50, 2) : 0,
            EngineShareInLifecyclePercent = inLifecycle?.MedianPercent,
            EngineShareInLifecycleMaxPercent = inLifecycle?.MaxPercent,
            OutsideDriversP50Ms = inLifecycle?.OutsideMs,
            InDriversP50Ms = inLifecycle?.DriverMs,
            EngineDriverMsPerLifecycle = engineMethods,
            DirectDriverMsPerLifecycle = directMethods,
            Store = store.StoreName,
            Synchronous = store.SynchronousName,
            Count = count,
            Concurrency = concurrency,
            RunRootFs = FileSystemType(host.RunRoot),
            WarmupOps = warmedUp.Completed,
            WarmupSec = Math.Round(warmedUp.Elapsed.TotalSeconds, 1),
            LifecyclesPerSec = Math.Round(engine.PerSecond, 1),
            P50Ms = Math.Round(engine.Latency.P50, 2),
            P99Ms = Math.Round(engine.Latency.P99, 2),
            MaxMs = Math.Round(engine.Latency.Max, 2),
            DirectP50Ms = Math.Round(direct.Latency.P50, 3),
            DirectP99Ms = Math.Round(direct.Latency.P99, 3),
            DirectLifecyclesPerSec = Math.Round(direct.PerSecond, 1),
            EpisodesPerLifecycle = shape.Episodes,
            ActivitiesPerLifecycle = shape.Activities,
            EntityCallsPerLifecycle = shape.EntityCalls,
            CommitsPerLifecycle = commits,
            HistoryEventsPerLifecycle = shape.HistoryEvents,
            ElapsedSec = Math.Round(engine.Elapsed.TotalSeconds, 3),
        };
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>The engine's share measured inside each lifecycle (one client): median and worst, and the times it splits.</summary>
    private sealed record InLifecycleShare(double MedianPercent, double MaxPercent, double OutsideMs, double DriverMs);

    private static string DefaultRunRootParent() => FileSystemType(TmpfsDirectory) == "tmpfs" ? TmpfsDirectory : Path.GetTempPath();

    /// <summary>The type of the file system holding <paramref name="path"/>, from the longest mount point of /proc/mounts above it.</summary>
    private static string FileSystemType(string path)
    {
        const string Mounts = "/proc/mounts";
        if (!File.Exists(Mounts))
        {
            return "unknown";
        }

        var full = Path.GetFullPath(path);
        var best = (Length: -1, Type: "unknown");
        foreach (var line in File.ReadLines(Mounts))
        {
            var fields = line.Split(' ');
            if (fields.Length < 3)
            {
                continue;
            }

            var mountPoint = fields[1].Replace("\\040", " ", StringComparison.Ordinal);
            var under = mountPoint == "/" || full == mountPoint || full.StartsWith(mountPoint + "/", StringComparison.Ordinal);
            if (under && mountPoint.Length > best.Length)
            {
                best = (mountPoint.Length, fields[2]);
            }
        }

        return best.Type;
    }

    /// <summary>The drivers, a store, a worker running the sandbox orchestrations and activities, and the sandbox client.</summary>
    private sealed class LifecycleHost : IAsyncDisposable
    {
        private const string Container = "c1";

        private readonly ServiceProvider _services;
        private readonly EngineHost _engine;
        private readonly SandboxClient _sandboxes;
        private readonly LifecycleDrivers? _drivers;

        private LifecycleHost(ServiceProvider services, EngineHost engine, string runRoot, LifecycleDrivers? drivers)
        {
            _services = services;
            _engine = engine;
            RunRoot = runRoot;
            _drivers = drivers;
            _sandboxes = new SandboxClient(engine.Client);
        }

        public string Description => _engine.Description;

        public string DriversName => _drivers is null ? "mock hypervisor, noop agent, no network" : $"QEMU ({_drivers.Accelerator}), Kata agent, tcfilter netns";

        public string RunRoot { get; }

        /// <summary>The time driver calls have been in flight (see <see cref="DriverClock"/>).</summary>
        public DriverClock Clock => _services.GetRequiredService<DriverClock>();

        /// <summary>Store batches committed so far.</summary>
        public long Commits => _engine.Commits;

        public static async Task<LifecycleHost> StartAsync(BenchStoreOptions options, int concurrency, string runRootParent, LifecycleDrivers? drivers, CancellationToken cancellationToken)
        {
            // A short run root: the agent and QMP sockets live under it, and a Unix socket path is at most 107 bytes.
            var runRoot = Path.Combine(runRootParent, $"kb-{Guid.NewGuid().ToString("N")[..8]}");
            // Every driver call is timed (registered before AddSandboxDrivers, whose registrations are TryAdd): the time
            // a lifecycle spends outside them is the engine's share, measured inside the lifecycle itself.
            var clock = new DriverClock();
            var collection = new ServiceCollection()
                .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
                .AddSingleton(typeof(ILogger<>), typeof(NullLogger<>))
                .AddSingleton(clock)
                .AddSingleton<IDriverResolver>(sp => clock.Wrap((IDriverResolver)ActivatorUtilities.CreateInstance<DriverRegistry>(sp)))
                .AddSingleton<ISandboxStore>(sp => clock.WrapInterface<ISandboxStore>(sp.GetRequiredService<SandboxFileStore>()))
                .AddSandboxDrivers(s => s.RunRoot = runRoot);
            if (drivers is not null)
            {
                drivers.Prepare(runRoot);
                collection
                    .AddKataAgent(a => a.SharedDirectory = Path.Combine(runRoot, "shared"))
                    .AddQemuHypervisor(q =>
                    {
                        q.GuestImageDirectory = drivers.GuestImage;
                        q.Accelerator = drivers.AcceleratorValue;
                    })
                    .AddTcFilterNetwork(n =>
                    {
                        n.AddressPool = "10.215.0.0/24";
                        n.NetnsPrefix = LifecycleDrivers.NetnsPrefix;
                        n.HostDevicePrefix = LifecycleDrivers.HostDevicePrefix;
                    });
            }

            var services = collection.BuildServiceProvider();
            var registry = new Microsoft.DurableTask.DurableTaskRegistry().AddSandboxOrchestrations().AddSandboxActivities();
            try
            {
                return new LifecycleHost(services, await EngineHost.StartAsync(options, registry, concurrency, cancellationToken, services), runRoot, drivers);
            }
            catch
            {
                DeleteQuietly(() => Directory.Delete(runRoot, recursive: true));
                throw;
            }
        }

        /// <summary>The calls of one lifecycle, in order, with the request id each is made with.</summary>
        private static readonly (string Operation, string RequestId)[] Calls =
        [
            (SandboxOrchestrations.CreateSandbox, "create"), (SandboxOrchestrations.StartSandbox, "start"),
            (SandboxOrchestrations.StopSandbox, "stop"), (SandboxOrchestrations.DeleteSandbox, "delete"),
        ];

        /// <summary>One lifecycle through the engine; a call that fails fails the run.</summary>
        public async Task LifecycleAsync(string sandboxId, CancellationToken cancellationToken)
        {
            try
            {
                foreach (var (operation, requestId) in Calls)
                {
                    var config = operation == SandboxOrchestrations.CreateSandbox ? Config(sandboxId) : null;
                    await _sandboxes.RunAsync(operation, new SandboxRequest { SandboxId = sandboxId, Config = config }, requestId, cancellationToken);
                }
            }
            catch (SandboxCallException ex)
            {
                throw new BenchmarkFailedException($"the lifecycle of {sandboxId} failed ({ex.Kind}) in {ex.InstanceId}: {ex.Message}", ex);
            }
        }

        /// <summary>
        /// The driver calls of one lifecycle made directly, in the order the activities make them: create (network,
        /// VM and guest, guest details, container, persist.json), start (the container, persist.json), stop (the
        /// container, guest and VM, network, persist.json) and delete (the run directory).
        /// </summary>
        public async Task DirectLifecycleAsync(string sandboxId, CancellationToken cancellationToken)
        {
            var config = Config(sandboxId).Validated();
            var resolver = _services.GetRequiredService<IDriverResolver>();
            var hypervisor = resolver.GetHypervisor(config.HypervisorType);
            var agent = resolver.GetAgent(config.AgentType);
            var network = resolver.GetNetwork(config.NetworkConfig.InterworkingModel);
            var files = _services.GetRequiredService<ISandboxStore>();

            var net = await network.CreateAsync(sandboxId, config.NetworkConfig, cancellationToken);
            var vm = await hypervisor.StartVmAsync(sandboxId, config, net, cancellationToken);
            foreach (var endpoint in net.Endpoints)
            {
                await agent.UpdateInterfaceAsync(sandboxId, endpoint, cancellationToken);
            }

            if (net.Routes.Count > 0)
            {
                await agent.UpdateRoutesAsync(sandboxId, Activities.Sandboxes.StartVmActivity.GuestRoutes(net), cancellationToken);
            }

            await agent.CreateSandboxAsync(sandboxId, config, cancellationToken);
            var guest = await agent.GetGuestDetailsAsync(sandboxId, cancellationToken);
            var process = await agent.CreateContainerAsync(sandboxId, config.Containers[0], cancellationToken);
            var container = new ContainerRecord { Id = Container, Config = config.Containers[0], Pid = process.Pid, Token = process.Token, StartTime = process.StartTime };
            var record = new SandboxRecord { Id = sandboxId, Config = config, Network = net, Vm = vm, GuestDetails = guest, Containers = [container] };
            await files.WriteAsync(record, cancellationToken);

            await agent.StartContainerAsync(sandboxId, Container, cancellationToken);
            record = record with { State = SandboxState.Running, Containers = [container with { State = SandboxState.Running }] };
            await files.WriteAsync(record, cancellationToken);

            await agent.SignalProcessAsync(sandboxId, Container, string.Empty, 9, all: true, cancellationToken);
            await agent.RemoveContainerAsync(sandboxId, Container, cancellationToken);
            await agent.DestroySandboxAsync(sandboxId, cancellationToken);
            await hypervisor.StopVmAsync(sandboxId, vm, cancellationToken);
            await network.RemoveAsync(sandboxId, net, cancellationToken);
            record = record with { State = SandboxState.Stopped, Vm = null, Network = null, Containers = [container with { State = SandboxState.Stopped }] };
            await files.WriteAsync(record, cancellationToken);

            await files.RemoveAsync(sandboxId, cancellationToken);
        }

        /// <summary>What one lifecycle costs the engine: episodes, activities, entity calls and history events of its four runs.</summary>
        public async Task<(int Episodes, int Activities, int EntityCalls, int HistoryEvents)> ShapeAsync(string sandboxId, CancellationToken cancellationToken)
        {
            int episodes = 0, activities = 0, entityCalls = 0, events = 0;
            foreach (var (operation, requestId) in Calls)
            {
                var history = await _engine.Client.GetHistoryAsync(SandboxClient.InstanceIdFor(operation, sandboxId, requestId), cancellation: cancellationToken);
                episodes += history.Count(e => e.OrchestratorStarted is not null);
                activities += history.Count(e => e.TaskScheduled is not null);
                entityCalls += history.Count(e => e.EntityOperationCalled is not null);
                events += history.Count;
            }

            return (episodes, activities, entityCalls, events);
        }

        /// <summary>A benchmark that leaks sandboxes measures the wrong thing: every VM and run directory must be gone.</summary>
        public async Task AssertNothingLeftAsync(CancellationToken cancellationToken)
        {
            var vms = _drivers is null ? _services.GetRequiredService<MockHypervisor>().RunningVms.Count : LifecycleDrivers.QemuProcesses(RunRoot);
            var namespaces = _drivers is null ? 0 : LifecycleDrivers.Namespaces();
            var listed = await _sandboxes.ListAsync(cancellationToken);
            var directories = Directory.Exists(Path.Combine(RunRoot, "sbs")) ? Directory.GetDirectories(Path.Combine(RunRoot, "sbs")).Length : 0;
            if (vms > 0 || namespaces > 0 || listed.Count > 0 || directories > 0)
            {
                throw new BenchmarkFailedException($"the lifecycles left {vms} VMs, {namespaces} network namespaces, {listed.Count} sandbox records and {directories} run directories behind");
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await _engine.DisposeAsync();
            }
            finally
            {
                DeleteQuietly(() => Directory.Delete(RunRoot, recursive: true));
            }
        }

        private SandboxConfig Config(string sandboxId) => _drivers is { } real ? real.Config(sandboxId, Container) : new()
        {
            Id = sandboxId,
            HypervisorType = MockHypervisor.TypeName,
            AgentType = NoopAgent.TypeName,
            HypervisorConfig = new HypervisorConfig { KernelPath = "/usr/share/kata/vmlinuz", ImagePath = "/usr/share/kata/kata.img" },
            NetworkConfig = new NetworkConfig { InterworkingModel = NoneNetwork.ModelName },
            Containers = [new ContainerConfig { Id = Container, RootFs = $"/run/rootfs/{Container}", Cmd = new Cmd { Args = ["/bin/sh"] } }],
        };

        private static void DeleteQuietly(Action delete)
        {
            try
            {
                delete();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"warning: {ex.Message}");
            }
        }
    }
}

/// <summary>The JSON line of the <c>lifecycle</c> benchmark.</summary>
internal sealed record LifecycleResult
{
    public string Benchmark { get; init; } = LifecycleBenchmark.CommandName;

    /// <summary>The hypervisor: mock, or qemu (with the Kata agent and a tcfilter network).</summary>
    public required string Hypervisor { get; init; }

    /// <summary>With qemu, the accelerator asked for (auto, kvm, tcg); null for mock.</summary>
    public required string? Accelerator { get; init; }

    /// <summary>Whether engine and direct lifecycles alternated (qemu with one client) instead of running as two blocks.</summary>
    public required bool Interleaved { get; init; }

    /// <summary>The engine's share of the lifecycle p50: (p50 - directP50) / p50, in percent.</summary>
    public required double EngineSharePercent { get; init; }

    /// <summary>
    /// With one client: the median over the measured lifecycles of (wall - time in driver calls) / wall, in percent. It
    /// is measured inside each lifecycle, so a boot that is slow at one moment cancels out; null with more clients.
    /// </summary>
    public required double? EngineShareInLifecyclePercent { get; init; }

    /// <summary>The largest per-lifecycle share of those lifecycles.</summary>
    public required double? EngineShareInLifecycleMaxPercent { get; init; }

    /// <summary>Median time of one lifecycle outside every driver call (engine, activities' own code), with one client.</summary>
    public required double? OutsideDriversP50Ms { get; init; }

    /// <summary>Median time of one lifecycle inside driver calls (QEMU, the agent, the network, persist.json), with one client.</summary>
    public required double? InDriversP50Ms { get; init; }

    /// <summary>Per driver method, its mean time per lifecycle through the engine (each call whole), largest first.</summary>
    public required Dictionary<string, double> EngineDriverMsPerLifecycle { get; init; }

    /// <summary>The same for the direct lifecycles: where the two differ, the activities make calls the direct path does not.</summary>
    public required Dictionary<string, double> DirectDriverMsPerLifecycle { get; init; }

    public required string Store { get; init; }

    /// <summary>SQLite's synchronous mode; null for the memory store.</summary>
    public required string? Synchronous { get; init; }

    public required int Count { get; init; }

    public required int Concurrency { get; init; }

    /// <summary>Lifecycles run in the warm-up (not measured), and its duration.</summary>
    public required int WarmupOps { get; init; }

    public required double WarmupSec { get; init; }

    /// <summary>The file system of the run root (tmpfs, ext4, ...): it decides what writing persist.json costs.</summary>
    public required string RunRootFs { get; init; }

    /// <summary>Lifecycles (create, start, stop, delete) completed per second through the engine.</summary>
    public required double LifecyclesPerSec { get; init; }

    /// <summary>Median wall time of one lifecycle's four calls, each from schedule to observed completion.</summary>
    public required double P50Ms { get; init; }

    public required double P99Ms { get; init; }

    public required double MaxMs { get; init; }

    /// <summary>Median of the same driver calls made directly, without the engine (same concurrency).</summary>
    public required double DirectP50Ms { get; init; }

    public required double DirectP99Ms { get; init; }

    public required double DirectLifecyclesPerSec { get; init; }

    /// <summary>Orchestration episodes of one lifecycle's four runs (each is one store commit of the run at least).</summary>
    public required int EpisodesPerLifecycle { get; init; }

    public required int ActivitiesPerLifecycle { get; init; }

    /// <summary>Entity calls (get, put, delete) of one lifecycle, each a round trip through the entity's inbox.</summary>
    public required int EntityCallsPerLifecycle { get; init; }

    public required int HistoryEventsPerLifecycle { get; init; }

    /// <summary>Store batches one lifecycle committed (the lifecycle the shape is read from, run alone after the measured ones).</summary>
    public required long CommitsPerLifecycle { get; init; }

    public required double ElapsedSec { get; init; }
}

/// <summary>The real drivers of <c>lifecycle --hypervisor qemu</c>: QEMU with the guest image, the Kata agent and tcfilter.</summary>
internal sealed class LifecycleDrivers
{
    /// <summary>The names of what the tcfilter driver makes for the benchmark, so a leftover is found.</summary>
    public const string NetnsPrefix = "kwfbench-";

    /// <summary>The host ends of the benchmark's veths.</summary>
    public const string HostDevicePrefix = "kb";

    private string _rootfs = string.Empty;

    private LifecycleDrivers(string guestImage, QemuAccelerator accelerator)
    {
        GuestImage = guestImage;
        AcceleratorValue = accelerator;
    }

    /// <summary>The guest image directory.</summary>
    public string GuestImage { get; }

    /// <summary>How the vCPUs run.</summary>
    public QemuAccelerator AcceleratorValue { get; }

    /// <summary>The accelerator's name in the JSON line.</summary>
    public string Accelerator => AcceleratorValue.ToString().ToLowerInvariant();

    /// <summary>Checks what real sandboxes need and reads the options.</summary>
    /// <exception cref="UsageException">A part is missing or an option is wrong.</exception>
    public static LifecycleDrivers Qemu(string guestImage, string accelerator)
    {
        var value = accelerator switch
        {
            "auto" => QemuAccelerator.Auto,
            "kvm" => QemuAccelerator.Kvm,
            "tcg" => QemuAccelerator.Tcg,
            _ => throw new UsageException($"--accelerator must be auto, kvm or tcg, got '{accelerator}'"),
        };
        foreach (var file in new[] { "vmlinuz", "initrd.gz", "rootfs/bin/busybox" })
        {
            if (!File.Exists(Path.Combine(guestImage, file)))
            {
                throw new UsageException($"--guest: '{guestImage}' has no {file} (build it with guest/build.sh '{guestImage}')");
            }
        }

        if (Environment.UserName != "root")
        {
            throw new UsageException("--hypervisor qemu needs root (network namespaces, veth, tap, bind mounts)");
        }

        return new LifecycleDrivers(guestImage, value);
    }

    /// <summary>Makes the container's rootfs under the run root: a copy of the image's busybox rootfs, shared by every lifecycle (its process only sleeps).</summary>
    public void Prepare(string runRoot)
    {
        _rootfs = Path.Combine(runRoot, "rootfs");
        Directory.CreateDirectory(runRoot);
        using var copy = Process.Start(new ProcessStartInfo("cp") { ArgumentList = { "-a", Path.Combine(GuestImage, "rootfs"), _rootfs } })
            ?? throw new BenchmarkFailedException("cp did not start");
        copy.WaitForExit();
        if (copy.ExitCode != 0)
        {
            throw new BenchmarkFailedException($"copying the guest rootfs to {_rootfs} failed with {copy.ExitCode}");
        }
    }

    /// <summary>A one-container sandbox on QEMU (256 MiB, one vCPU), the Kata agent and a tcfilter network.</summary>
    public SandboxConfig Config(string sandboxId, string container) => new()
    {
        Id = sandboxId,
        HypervisorType = QemuHypervisor.TypeName,
        AgentType = KataAgent.TypeName,
        HypervisorConfig = new HypervisorConfig
        {
            KernelPath = Path.Combine(GuestImage, "vmlinuz"),
            InitrdPath = Path.Combine(GuestImage, "initrd.gz"),
            MemorySizeMiB = 256,
        },
        NetworkConfig = new NetworkConfig { InterworkingModel = TcFilterNetwork.ModelName },
        Containers = [new ContainerConfig { Id = container, RootFs = _rootfs, Cmd = new Cmd { Args = ["/bin/sleep", "3600"] } }],
    };

    /// <summary>QEMU processes whose command line names the run root.</summary>
    public static int QemuProcesses(string runRoot) => Directory.EnumerateDirectories("/proc").Count(d =>
    {
        try
        {
            var cmdline = File.ReadAllText(Path.Combine(d, "cmdline"));
            return cmdline.Contains("qemu-system", StringComparison.Ordinal) && cmdline.Contains(runRoot, StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    });

    /// <summary>The benchmark's network namespaces left in /run/netns.</summary>
    public static int Namespaces() => Directory.Exists("/run/netns") ? Directory.GetFiles("/run/netns", NetnsPrefix + "*").Length : 0;
}
