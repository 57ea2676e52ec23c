using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Activities.Store;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KataWorkflows.GuestAgent.Tests;

/// <summary>
/// One guest booted under QEMU (<see cref="GuestQemu"/>: KVM where it really boots, else TCG) from the image
/// guest/build.sh makes, driven through the host's Kata agent driver (<see cref="KataAgent"/>) exactly as a sandbox's
/// activities drive it: the agent's virtio-serial port on the driver's socket (<c>&lt;runRoot&gt;/vm/&lt;id&gt;/kata.sock</c>),
/// Kata's 9p share of the driver's shared directory, the ext4 rootfs image as a virtio-blk disk and a virtio-net link on
/// an isolated user-mode network. Each container's rootfs is the image's busybox rootfs, bind-mounted into the share by
/// the driver when this runs as root (Kata's way), else hard-linked there by the fixture. Shared by every test of the
/// collection; the sandbox is created once. When QEMU or the image's build tools are missing the fixture records why and
/// each test skips, unless CI is set, where the fixture fails instead.
/// </summary>
public sealed class GuestVm : IAsyncLifetime
{
    /// <summary>The MAC of the guest's virtio-net link.</summary>
    public const string NicMac = "52:54:00:12:34:56";

    /// <summary>The sandbox's id (and the agent socket's directory name).</summary>
    public const string SandboxId = "guest-tests";

    /// <summary>The sandbox's hostname.</summary>
    public const string SandboxHostname = "guest-tests-host";

    private readonly string _directory = Path.Join(Path.GetTempPath(), $"kwf-guest-{Guid.NewGuid():N}"[..20]);
    private GuestQemu? _qemu;

    /// <summary>Why the guest could not be booted here (tests skip), or null.</summary>
    public string? SkipReason { get; private set; }

    /// <summary>The host's Kata agent driver, whose sandbox <see cref="SandboxId"/> is this VM.</summary>
    public KataAgent Agent { get; private set; } = null!;

    /// <summary>Whether the driver bind-mounts each container's rootfs (root only).</summary>
    public bool BindMountRootfs { get; } = Environment.UserName == "root";

    /// <summary>From QEMU's launch to the agent's first answer to Check, through the driver.</summary>
    public TimeSpan BootTime => _qemu?.BootTime ?? TimeSpan.Zero;

    /// <summary><c>kvm</c> or <c>tcg</c>.</summary>
    public string Accelerator => _qemu?.Accelerator ?? "none";

    /// <summary>The console log so far (kernel, init and agent lines), for failure messages.</summary>
    public string Console => _qemu?.Console ?? string.Empty;

    /// <summary>The host's copy of the busybox rootfs that containers get.</summary>
    public string Rootfs => Path.Join(_directory, "busybox-rootfs");

    /// <summary>The driver's shared directory (its sandbox sub-directory is QEMU's 9p export).</summary>
    public string SharedDirectory => Path.Join(_directory, "shared");

    private static bool UnderCi => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    /// <summary>The driver's options for a guest under TCG: Kata's timeouts, except a health check that may wait for a slow boot.</summary>
    public static KataAgent NewAgent(string runRoot, string sharedDirectory, bool bindMountRootfs) => new(
        Options.Create(new KataAgentOptions
        {
            SharedDirectory = sharedDirectory,
            BindMountRootfs = bindMountRootfs,
            CheckTimeout = TimeSpan.FromMinutes(3),
        }),
        Options.Create(new HostStoreOptions { RunRoot = runRoot }),
        TimeProvider.System,
        NullLogger<KataAgent>.Instance);

    public async ValueTask InitializeAsync()
    {
        SkipReason = GuestQemu.Missing();
        if (SkipReason is not null)
        {
            if (UnderCi)
            {
                throw new InvalidOperationException($"CI is set and the guest cannot be booted: {SkipReason}");
            }

            return;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await GuestQemu.BuildImageAsync(timeout.Token);
        Directory.CreateDirectory(_directory);
        await GuestQemu.RunToolAsync("cp", ["-a", Path.Join(GuestQemu.ImageDirectory, "rootfs"), Rootfs], timeout.Token);
        var disk = Path.Join(_directory, "rootfs.ext4");
        File.Copy(Path.Join(GuestQemu.ImageDirectory, "rootfs.ext4"), disk);

        Agent = NewAgent(Path.Join(_directory, "run"), SharedDirectory, BindMountRootfs);
        var share = KataGuestLayout.HostShare(SharedDirectory, SandboxId);
        Directory.CreateDirectory(share);
        var socket = Agent.SocketPathOf(SandboxId);
        Directory.CreateDirectory(Path.GetDirectoryName(socket)!);
        _qemu = await GuestQemu.BootAsync(
            new GuestQemuOptions { AgentSocket = socket, ConsolePath = Path.Join(_directory, "console.log"), SharedDirectory = share, Disk = disk, NicMac = NicMac },
            ct => Agent.CheckAsync(SandboxId, ct),
            timeout.Token);
        await Agent.CreateSandboxAsync(SandboxId, new SandboxConfig { Id = SandboxId, Hostname = SandboxHostname }, timeout.Token);
    }

    /// <summary>Skips the calling test when the guest cannot be booted on this machine (never under CI).</summary>
    public void RequireGuest() => Assert.SkipWhen(SkipReason is not null, SkipReason ?? string.Empty);

    /// <summary>
    /// A container of the busybox rootfs running <paramref name="args"/> as root with a PATH and <paramref name="env"/>;
    /// without bind mounts its rootfs is first hard-linked where the guest finds it.
    /// </summary>
    public async Task<ContainerConfig> BusyboxAsync(string id, IReadOnlyList<string> args, params string[] env)
    {
        if (!BindMountRootfs)
        {
            var target = KataGuestLayout.HostRootfs(SharedDirectory, SandboxId, id);
            if (!Directory.Exists(target))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await GuestQemu.RunToolAsync("cp", ["-al", Rootfs, target], TestContext.Current.CancellationToken);
            }
        }

        return new ContainerConfig
        {
            Id = id,
            RootFs = Rootfs,
            Cmd = new Cmd { Args = args, Envs = ["PATH=/bin:/sbin:/usr/bin:/usr/sbin", .. env], WorkDir = "/", User = "0:0" },
        };
    }

    public async ValueTask DisposeAsync()
    {
        if (Agent is not null)
        {
            if (_qemu is { IsRunning: true })
            {
                try
                {
                    // Removes the containers and, with bind mounts, unmounts every rootfs under the share.
                    using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
                    await Agent.DestroySandboxAsync(SandboxId, timeout.Token);
                }
                catch (Exception e) when (e is KataAgentException or OperationCanceledException)
                {
                    // The guest is being torn down anyway; any mount left is unmounted below.
                }
            }

            await Agent.DisposeAsync();
        }

        if (_qemu is not null)
        {
            await _qemu.DisposeAsync();
        }

        // A bind mount left by a failed test must go first: a recursive delete would reach through it.
        foreach (var mount in File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4]).Where(m => m.StartsWith(_directory, StringComparison.Ordinal)).OrderByDescending(m => m.Length))
        {
            await GuestQemu.RunToolAsync("umount", ["-l", mount], CancellationToken.None);
        }

        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

/// <summary>The tests that share one booted guest.</summary>
[CollectionDefinition(Name)]
public sealed class GuestVmGroup : ICollectionFixture<GuestVm>
{
    public const string Name = "guest";
}
