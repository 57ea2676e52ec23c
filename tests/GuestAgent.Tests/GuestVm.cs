using System.Diagnostics;
using System.Net.Sockets;
using Google.Protobuf;
using KataWorkflows.Protocol.Agent;
using Process = System.Diagnostics.Process;
using KataWorkflows.Protocol.Ttrpc;

namespace KataWorkflows.GuestAgent.Tests;

/// <summary>
/// One guest booted under QEMU (TCG) from the image guest/build.sh makes, with the agent's virtio-serial port on a
/// Unix socket, Kata's 9p share (mount tag kataShared) on a temporary directory holding the busybox rootfs, the
/// ext4 rootfs image as a virtio-blk disk, and a virtio-net link on an isolated user-mode network
/// (restrict=on: no traffic leaves QEMU). Shared by every test of the collection; the sandbox is created once.
/// When QEMU or the image's build tools are missing the fixture records why, and each test skips, unless CI is
/// set, where the fixture fails instead.
/// </summary>
public sealed class GuestVm : IAsyncLifetime
{
    /// <summary>The MAC of the guest's virtio-net link.</summary>
    public const string NicMac = "52:54:00:12:34:56";

    /// <summary>The guest path where Kata's 9p share is mounted.</summary>
    public const string SharedInGuest = "/run/kata-containers/shared/containers";

    /// <summary>The busybox rootfs as the guest sees it through the share.</summary>
    public const string RootfsInGuest = SharedInGuest + "/busybox/rootfs";

    /// <summary>The sandbox's hostname.</summary>
    public const string SandboxHostname = "guest-tests";

    private static readonly string[] BuildTools = ["apt-get", "dpkg-deb", "cpio", "gzip", "mkfs.ext4", "gcc"];

    private readonly string _directory = Path.Join(Path.GetTempPath(), $"kwf-guest-{Guid.NewGuid():N}");
    private Process? _qemu;

    /// <summary>Why the guest could not be booted here (tests skip), or null.</summary>
    public string? SkipReason { get; private set; }

    /// <summary>The agent's client, connected through the chardev's Unix socket.</summary>
    public TtrpcClient Client { get; private set; } = null!;

    /// <summary>The image directory (vmlinuz, initrd.gz, rootfs/, rootfs.ext4, manifest).</summary>
    public string ImageDirectory { get; } = Environment.GetEnvironmentVariable("KATA_GUEST_DIR")
        ?? Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "kata-workflows", "guest");

    /// <summary>Seconds from QEMU's launch to the agent's first answer to Check.</summary>
    public double BootSeconds { get; private set; }

    /// <summary>The console log so far (kernel, init and agent lines), for failure messages.</summary>
    public string Console => File.Exists(ConsolePath) ? File.ReadAllText(ConsolePath) : "";

    private string ConsolePath => Path.Join(_directory, "console.log");

    private static bool UnderCi => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    public async ValueTask InitializeAsync()
    {
        var missing = (string[])[.. BuildTools.Append("qemu-system-x86_64").Where(t => !OnPath(t))];
        if (missing.Length > 0)
        {
            SkipReason = $"missing on this machine: {string.Join(", ", missing)}";
            if (UnderCi)
            {
                throw new InvalidOperationException($"CI is set and the guest cannot be booted: {SkipReason}");
            }
            return;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        await BuildImageAsync(timeout.Token);
        Directory.CreateDirectory(_directory);
        var shared = Path.Join(_directory, "shared");
        Directory.CreateDirectory(Path.Join(shared, "busybox"));
        await RunAsync("cp", ["-a", Path.Join(ImageDirectory, "rootfs"), Path.Join(shared, "busybox", "rootfs")], timeout.Token);
        File.Copy(Path.Join(ImageDirectory, "rootfs.ext4"), Path.Join(_directory, "rootfs.ext4"));

        var socket = Path.Join(_directory, "agent.sock");
        var started = Stopwatch.StartNew();
        var info = new ProcessStartInfo("qemu-system-x86_64")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in (string[])[
            "-machine", "q35,accel=tcg", "-m", "512", "-smp", "1", "-nographic", "-nodefaults", "-no-reboot",
            "-serial", $"file:{ConsolePath}",
            "-kernel", Path.Join(ImageDirectory, "vmlinuz"), "-initrd", Path.Join(ImageDirectory, "initrd.gz"),
            "-append", "console=ttyS0 quiet panic=-1",
            "-device", "virtio-serial-pci",
            "-chardev", $"socket,path={socket},server=on,wait=off,id=agent",
            "-device", "virtserialport,chardev=agent,name=agent.channel.0",
            "-fsdev", $"local,id=share,path={shared},security_model=none",
            "-device", "virtio-9p-pci,fsdev=share,mount_tag=kataShared",
            "-drive", $"file={Path.Join(_directory, "rootfs.ext4")},if=none,id=disk0,format=raw",
            "-device", "virtio-blk-pci,drive=disk0",
            "-netdev", "user,id=net0,restrict=on",
            "-device", $"virtio-net-pci,netdev=net0,mac={NicMac}",
        ])
        {
            info.ArgumentList.Add(argument);
        }
        _qemu = Process.Start(info) ?? throw new InvalidOperationException("qemu-system-x86_64 did not start");
        var qemuStderr = _qemu.StandardError.ReadToEndAsync(timeout.Token);

        // QEMU makes the socket while it starts; connect once it is there.
        Stream? connection = null;
        while (connection is null)
        {
            if (_qemu.HasExited)
            {
                throw new InvalidOperationException($"QEMU exited with {_qemu.ExitCode}: {await qemuStderr}");
            }
            try
            {
                connection = await TtrpcUnixSocket.ConnectAsync(socket, timeout.Token);
            }
            catch (SocketException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), timeout.Token);
            }
        }
        Client = new TtrpcClient(connection);
        // The request waits in the socket until the guest has booted and the agent opened its port.
        var health = await CallAsync("grpc.Health", "Check", new CheckRequest(), HealthCheckResponse.Parser, TimeSpan.FromSeconds(90));
        BootSeconds = started.Elapsed.TotalSeconds;
        if (health.Status != HealthCheckResponse.Types.ServingStatus.Serving)
        {
            throw new InvalidOperationException($"the agent answered Check with {health.Status}");
        }

        await CreateSandboxAsync();
    }

    /// <summary>Creates the sandbox as Kata's runtime does: hostname, DNS and the 9p share.</summary>
    public Task CreateSandboxAsync()
    {
        var request = new CreateSandboxRequest { Hostname = SandboxHostname, SandboxId = "sandbox-1" };
        request.Dns.Add("nameserver 192.0.2.53");
        var share = new Storage { Driver = "9p", Source = "kataShared", Fstype = "9p", MountPoint = SharedInGuest };
        share.Options.AddRange(["trans=virtio", "version=9p2000.L", "cache=mmap", "nodev", "msize=8192"]);
        request.Storages.Add(share);
        return CallAsync("grpc.AgentService", "CreateSandbox", request, Google.Protobuf.WellKnownTypes.Empty.Parser);
    }

    /// <summary>Skips the calling test when the guest cannot be booted on this machine (never under CI).</summary>
    public void RequireGuest() => Assert.SkipWhen(SkipReason is not null, SkipReason ?? "");

    /// <summary>Calls an agent method; a failure names the call and carries the guest's console tail.</summary>
    public Task<TResponse> CallAsync<TResponse>(string service, string method, IMessage request, MessageParser<TResponse> parser,
        TimeSpan? timeout = null)
        where TResponse : IMessage<TResponse> =>
        Client.CallAsync(service, method, request, parser, timeout ?? TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

    /// <summary>Calls a <c>grpc.AgentService</c> method.</summary>
    public Task<TResponse> AgentAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser, TimeSpan? timeout = null)
        where TResponse : IMessage<TResponse> =>
        CallAsync("grpc.AgentService", method, request, parser, timeout);

    private async Task BuildImageAsync(CancellationToken cancellationToken)
    {
        var repo = AppContext.BaseDirectory;
        while (!File.Exists(Path.Join(repo, "guest", "build.sh")))
        {
            repo = Path.GetDirectoryName(repo.TrimEnd('/')) ?? throw new InvalidOperationException("guest/build.sh not found above the test's directory");
        }
        // Idempotent: it returns at once when the image matches the sources, else rebuilds it.
        await RunAsync("bash", [Path.Join(repo, "guest", "build.sh"), ImageDirectory], cancellationToken);
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{await stdout}\n{await stderr}");
        }
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => File.Exists(Path.Join(directory, tool)));

    public async ValueTask DisposeAsync()
    {
        if (Client is not null)
        {
            await Client.DisposeAsync();
        }
        if (_qemu is not null)
        {
            if (!_qemu.HasExited)
            {
                _qemu.Kill();
            }
            await _qemu.WaitForExitAsync();
            _qemu.Dispose();
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
