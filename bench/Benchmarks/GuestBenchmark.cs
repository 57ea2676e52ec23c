using System.Diagnostics;
using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Activities.Store;
using KataWorkflows.Bench.Cli;
using KataWorkflows.Bench.Harness;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataWorkflows.Bench.Benchmarks;

/// <summary>
/// The real guest: boots the image guest/build.sh makes under QEMU (as tests/GuestAgent.Tests does, through
/// <see cref="GuestQemu"/>: KVM where a KVM boot reaches the agent, else TCG) several times and times QEMU's launch to the
/// agent's first answer to Check; then, on the last VM, times CreateContainer, StartContainer, ExecProcess and
/// StatsContainer through the host's Kata agent driver, one container per iteration.
/// </summary>
internal sealed class GuestBenchmark : IBenchmarkCommand
{
    /// <summary>The command name.</summary>
    public const string CommandName = "guest";

    private const string SandboxId = "bench";
    private static readonly string[] Options = ["--boots", "--iterations", "--accel", "--memory"];

    public string Name => CommandName;

    public string Summary => "the real guest under QEMU: launch to the agent's first answer, and the p50 of the container calls through the Kata agent driver";

    public string Usage =>
        """
          --boots N        guests booted one after another, each timed from QEMU's launch to the agent's first answer (default 5)
          --iterations M   containers created, started, exec'd into and stat'ed on the last guest (default 20)
          --accel A        auto (KVM where a KVM boot reaches the agent, else TCG), kvm or tcg (default: KATA_GUEST_ACCEL, else auto)
          --memory MIB     guest memory (default 512)
        Needs QEMU and guest/build.sh's tools; builds the image first when it is not current.
        """;

    public async Task<object> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var options = BenchArguments.Parse(CommandName, args, Options);
        var boots = options.PositiveInt("--boots", 5);
        var iterations = options.PositiveInt("--iterations", 20);
        var accel = options.Choice("--accel", Environment.GetEnvironmentVariable("KATA_GUEST_ACCEL") is { Length: > 0 } a ? a : "auto", "auto", "kvm", "tcg");
        var memory = options.PositiveInt("--memory", 512);
        if (GuestQemu.Missing() is { } missing)
        {
            throw new BenchmarkFailedException($"the guest cannot be booted here: {missing}");
        }

        Console.Error.WriteLine($"{CommandName}: building the guest image if it is not current ({GuestQemu.ImageDirectory})");
        await GuestQemu.BuildImageAsync(cancellationToken);
        var directory = Path.Join(Path.GetTempPath(), $"kwf-bench-guest-{Guid.NewGuid():N}"[..24]);
        Directory.CreateDirectory(directory);
        try
        {
            var rootfs = Path.Join(directory, "busybox-rootfs");
            await GuestQemu.RunToolAsync("cp", ["-a", Path.Join(GuestQemu.ImageDirectory, "rootfs"), rootfs], cancellationToken);
            var bootSeconds = new List<double>();
            string? kvmFallback = null;
            for (var boot = 1; ; boot++)
            {
                var run = Path.Join(directory, $"boot-{boot}");
                var shared = Path.Join(run, "shared");
                var bindMount = Environment.UserName == "root";
                var agent = new KataAgent(
                    Microsoft.Extensions.Options.Options.Create(new KataAgentOptions { SharedDirectory = shared, BindMountRootfs = bindMount, CheckTimeout = TimeSpan.FromMinutes(3) }),
                    Microsoft.Extensions.Options.Options.Create(new HostStoreOptions { RunRoot = Path.Join(run, "run") }),
                    TimeProvider.System,
                    NullLogger<KataAgent>.Instance);
                await using var _ = agent;
                var share = KataGuestLayout.HostShare(shared, SandboxId);
                Directory.CreateDirectory(share);
                var socket = agent.SocketPathOf(SandboxId);
                Directory.CreateDirectory(Path.GetDirectoryName(socket)!);
                var qemu = await GuestQemu.BootAsync(
                    new GuestQemuOptions { AgentSocket = socket, ConsolePath = Path.Join(run, "console.log"), SharedDirectory = share, MemoryMiB = memory, Accelerator = accel },
                    ct => agent.CheckAsync(SandboxId, ct),
                    cancellationToken);
                await using (qemu)
                {
                    bootSeconds.Add(qemu.BootTime.TotalSeconds);
                    kvmFallback ??= qemu.KvmFallback;
                    accel = qemu.Accelerator;
                    Console.Error.WriteLine($"{CommandName}: boot {boot} of {boots} ({qemu.Accelerator}): the agent answered {qemu.BootTime.TotalSeconds:F2} s after QEMU's launch");
                    if (boot < boots)
                    {
                        continue;
                    }

                    var calls = await MeasureCallsAsync(agent, shared, rootfs, bindMount, iterations, qemu, cancellationToken);
                    return new GuestResult
                    {
                        Accelerator = qemu.Accelerator,
                        KvmFallback = kvmFallback,
                        Boots = boots,
                        GuestMemoryMiB = memory,
                        HostCpus = Environment.ProcessorCount,
                        HostLoadAverage = File.ReadAllText("/proc/loadavg").Split(' ')[0],
                        BootSec = bootSeconds,
                        BootP50Sec = new LatencyStats(bootSeconds).P50,
                        Iterations = iterations,
                        CreateContainerP50Ms = calls.Create.P50,
                        StartContainerP50Ms = calls.Start.P50,
                        ExecProcessP50Ms = calls.Exec.P50,
                        StatsContainerP50Ms = calls.Stats.P50,
                        CreateContainerMaxMs = calls.Create.Max,
                        StartContainerMaxMs = calls.Start.Max,
                        ExecProcessMaxMs = calls.Exec.Max,
                        StatsContainerMaxMs = calls.Stats.Max,
                    };
                }
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<(LatencyStats Create, LatencyStats Start, LatencyStats Exec, LatencyStats Stats)> MeasureCallsAsync(
        KataAgent agent, string shared, string rootfs, bool bindMount, int iterations, GuestQemu qemu, CancellationToken cancellationToken)
    {
        await agent.CreateSandboxAsync(SandboxId, new SandboxConfig { Id = SandboxId, Hostname = "bench" }, cancellationToken);
        List<double> create = [], start = [], exec = [], stats = [];
        for (var i = 0; i < iterations; i++)
        {
            var id = $"c{i}";
            if (!bindMount)
            {
                var target = KataGuestLayout.HostRootfs(shared, SandboxId, id);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await GuestQemu.RunToolAsync("cp", ["-al", rootfs, target], cancellationToken);
            }

            var config = new ContainerConfig { Id = id, RootFs = rootfs, Cmd = new Cmd { Args = ["sleep", "600"], Envs = ["PATH=/bin:/sbin"], User = "0:0" } };
            try
            {
                var clock = Stopwatch.StartNew();
                await agent.CreateContainerAsync(SandboxId, config, cancellationToken);
                create.Add(clock.Elapsed.TotalMilliseconds);

                clock.Restart();
                await agent.StartContainerAsync(SandboxId, id, cancellationToken);
                start.Add(clock.Elapsed.TotalMilliseconds);

                clock.Restart();
                var process = await agent.ExecProcessAsync(SandboxId, id, new Cmd { Args = ["true"], Envs = ["PATH=/bin"] }, cancellationToken);
                exec.Add(clock.Elapsed.TotalMilliseconds);
                var status = await agent.WaitProcessAsync(SandboxId, id, process.Token, cancellationToken);
                if (status != 0)
                {
                    throw new BenchmarkFailedException($"the exec'd 'true' in container {id} exited with {status}");
                }

                clock.Restart();
                var usage = await agent.StatsContainerAsync(SandboxId, id, cancellationToken);
                stats.Add(clock.Elapsed.TotalMilliseconds);
                if (usage.MemoryUsageBytes <= 0)
                {
                    throw new BenchmarkFailedException($"StatsContainer of {id} reported no memory use");
                }

                await agent.SignalProcessAsync(SandboxId, id, string.Empty, 9, all: true, cancellationToken);
                await agent.WaitProcessAsync(SandboxId, id, string.Empty, cancellationToken);
                await agent.RemoveContainerAsync(SandboxId, id, cancellationToken);
            }
            catch (KataAgentException e)
            {
                throw new BenchmarkFailedException($"iteration {i + 1}: {e.Message}\nthe guest's console:\n{qemu.Console}", e);
            }

            Console.Error.WriteLine(
                $"{CommandName}: {i + 1}/{iterations}: create {create[^1]:F0} ms, start {start[^1]:F0} ms, exec {exec[^1]:F0} ms, stats {stats[^1]:F0} ms");
        }

        await agent.DestroySandboxAsync(SandboxId, cancellationToken);
        return (new LatencyStats(create), new LatencyStats(start), new LatencyStats(exec), new LatencyStats(stats));
    }
}

/// <summary>The result of <c>bench guest</c>.</summary>
internal sealed record GuestResult
{
    public string Benchmark { get; init; } = GuestBenchmark.CommandName;

    /// <summary><c>tcg</c> or <c>kvm</c>: what the guests ran on.</summary>
    public required string Accelerator { get; init; }

    /// <summary>Why KVM was not used, when it was tried or unavailable.</summary>
    public required string? KvmFallback { get; init; }

    public required int Boots { get; init; }

    public required int GuestMemoryMiB { get; init; }

    public required int HostCpus { get; init; }

    /// <summary>The host's 1-minute load average at the end (other work on the machine slows TCG down).</summary>
    public required string HostLoadAverage { get; init; }

    /// <summary>Each boot: QEMU's launch to the agent's first answer to Check through the driver.</summary>
    public required IReadOnlyList<double> BootSec { get; init; }

    public required double BootP50Sec { get; init; }

    public required int Iterations { get; init; }

    public required double CreateContainerP50Ms { get; init; }

    public required double StartContainerP50Ms { get; init; }

    public required double ExecProcessP50Ms { get; init; }

    public required double StatsContainerP50Ms { get; init; }

    public required double CreateContainerMaxMs { get; init; }

    public required double StartContainerMaxMs { get; init; }

    public required double ExecProcessMaxMs { get; init; }

    public required double StatsContainerMaxMs { get; init; }
}
