using System.Diagnostics;
using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Activities.Hypervisors.Qemu;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Qemu.Tests;

/// <summary>
/// One sandbox VM booted through <see cref="QemuHypervisor"/> (Accelerator Auto: the KVM probe decides) inside a
/// network namespace made for it, with one endpoint's tap cold-plugged, driven by the Kata agent driver: the guest
/// sandbox is created and one busybox container runs, so tests can exec into it. Shared by the tests of its
/// collection, stopped at the end.
/// </summary>
public sealed class QemuVm : IAsyncLifetime
{
    public const string SandboxId = "qa";
    public const string ContainerId = "c1";
    public const string ColdMac = "02:6b:77:66:00:01";

    public string? SkipReason { get; private set; }

    public string Root { get; private set; } = string.Empty;

    public string Netns { get; } = "kwfq-" + Guid.NewGuid().ToString("N")[..8];

    public string NetnsPath => Path.Join("/run/netns", Netns);

    public QemuHypervisor Hypervisor { get; private set; } = null!;

    public KataAgent Agent { get; private set; } = null!;

    public VmState Vm { get; private set; } = null!;

    public NetworkState Network { get; private set; } = null!;

    public SandboxConfig Config { get; } = QemuHost.Config(SandboxId);

    public double BootSeconds { get; private set; }

    public async ValueTask InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        SkipReason = await QemuHost.RequireGuestAsync(timeout.Token);
        if (SkipReason is not null)
        {
            return;
        }

        Root = QemuHost.NewRoot();
        try
        {
            await StartAsync(timeout.Token);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await QemuHost.RunAsync("ip", ["netns", "add", Netns], timeout.Token);
        await QemuHost.RunAsync("ip", ["-n", Netns, "tuntap", "add", "dev", "tapq0", "mode", "tap"], timeout.Token);
        await QemuHost.RunAsync("ip", ["-n", Netns, "link", "set", "tapq0", "up"], timeout.Token);
        Network = new NetworkState
        {
            NetNsPath = NetnsPath,
            Endpoints = [new InterfaceRecord { Name = "eth0", HwAddr = ColdMac, TapDevice = "tapq0", IpAddresses = ["10.88.0.2/24"] }],
        };
        Hypervisor = QemuHost.Hypervisor(Root);
        Agent = QemuHost.Agent(Root);
        var started = Stopwatch.StartNew();
        Vm = await Hypervisor.StartVmAsync(SandboxId, Config, Network, timeout.Token);
        BootSeconds = started.Elapsed.TotalSeconds;
        await Agent.CreateSandboxAsync(SandboxId, Config, timeout.Token);
        var container = new ContainerConfig
        {
            Id = ContainerId,
            RootFs = Path.Join(QemuHost.ImageDirectory, "rootfs"),
            Cmd = new Cmd { Args = ["/bin/sh", "-c", "sleep 100000"], Envs = ["PATH=/bin:/sbin:/usr/bin:/usr/sbin"] },
        };
        await Agent.CreateContainerAsync(SandboxId, container, timeout.Token);
        await Agent.StartContainerAsync(SandboxId, ContainerId, timeout.Token);
    }

    /// <summary>Skips the calling test when the guest cannot be booted on this machine (never under CI).</summary>
    public void Require() => Assert.SkipWhen(SkipReason is not null, SkipReason ?? string.Empty);

    /// <summary>Runs a shell script in the container and returns its exit status.</summary>
    public async Task<int> ExecAsync(string script, CancellationToken cancellationToken)
    {
        var process = await Agent.ExecProcessAsync(SandboxId, ContainerId, new Cmd { Args = ["/bin/sh", "-c", script], Envs = ["PATH=/bin:/sbin:/usr/bin:/usr/sbin"] }, cancellationToken);
        return await Agent.WaitProcessAsync(SandboxId, ContainerId, process.Token, cancellationToken);
    }

    /// <summary>The MACs of the guest's links, as the agent lists them.</summary>
    public async Task<IReadOnlyList<string>> GuestMacsAsync(CancellationToken cancellationToken) =>
        [.. (await Agent.ListInterfacesAsync(SandboxId, cancellationToken)).Select(i => i.HwAddr.ToLowerInvariant())];

    public async ValueTask DisposeAsync()
    {
        if (SkipReason is not null || Root.Length == 0)
        {
            return;
        }

        if (Agent is not null)
        {
            try
            {
                await Agent.DestroySandboxAsync(SandboxId, CancellationToken.None);
            }
            catch (KataAgentException)
            {
                // The VM is stopped below anyway.
            }

            await Agent.DisposeAsync();
        }

        if (Hypervisor is not null)
        {
            await Hypervisor.StopVmAsync(SandboxId, Vm, CancellationToken.None);
            await Hypervisor.DisposeAsync();
        }

        await QemuHost.RunAsync("ip", ["netns", "del", Netns], CancellationToken.None, check: false);
        Directory.Delete(Root, recursive: true);
    }
}

/// <summary>The tests that share one booted VM.</summary>
[CollectionDefinition(Name)]
public sealed class QemuVmGroup : ICollectionFixture<QemuVm>
{
    public const string Name = "qemu-vm";
}
