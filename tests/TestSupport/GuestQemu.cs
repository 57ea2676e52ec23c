using System.Diagnostics;
using System.Globalization;

namespace KataWorkflows.TestSupport;

/// <summary>How a <see cref="GuestQemu"/> VM is wired (Kata 1.x's way: virtio-serial agent channel, 9p share).</summary>
public sealed record GuestQemuOptions
{
    /// <summary>The host end of the agent's virtio-serial port <c>agent.channel.0</c>: a listening chardev socket.</summary>
    public required string AgentSocket { get; init; }

    /// <summary>Where QEMU writes the guest's serial console.</summary>
    public required string ConsolePath { get; init; }

    /// <summary>A host directory exported as 9p with mount tag <c>kataShared</c>, or null for none.</summary>
    public string? SharedDirectory { get; init; }

    /// <summary>A raw disk image attached as a virtio-blk disk (the guest's <c>/dev/vda</c>), or null for none.</summary>
    public string? Disk { get; init; }

    /// <summary>The MAC of a virtio-net link on an isolated user-mode network (restrict=on), or null for no NIC.</summary>
    public string? NicMac { get; init; }

    /// <summary>Guest memory in MiB.</summary>
    public int MemoryMiB { get; init; } = 512;

    /// <summary>Guest vCPUs.</summary>
    public int Cpus { get; init; } = 1;

    /// <summary>
    /// <c>auto</c> (KVM when <c>/dev/kvm</c> opens and a KVM boot reaches the agent, else TCG), <c>kvm</c> or
    /// <c>tcg</c>. Default: the environment variable <c>KATA_GUEST_ACCEL</c>, else <c>auto</c>.
    /// </summary>
    public string Accelerator { get; init; } = Environment.GetEnvironmentVariable("KATA_GUEST_ACCEL") is { Length: > 0 } accel ? accel : "auto";

    /// <summary>How long a KVM boot may take to reach the agent before <c>auto</c> gives up on KVM (on a host where KVM works it takes about a second).</summary>
    public TimeSpan KvmProbeTimeout { get; init; } = TimeSpan.FromSeconds(20);
}

/// <summary>
/// The project's guest image (<c>guest/build.sh</c>) booted under QEMU from a test or the benchmark, wired as Kata 1.x
/// wires a VM: q35, the agent's virtio-serial port on a chardev socket, Kata's 9p share, optionally a virtio-blk disk and
/// an isolated NIC. The accelerator is KVM only where it really boots the guest: <c>/dev/kvm</c> alone proves nothing
/// (on a machine that is itself a VM it may be there and not run a stock kernel), so <c>auto</c> boots with
/// <c>accel=kvm -cpu host</c> and falls back to TCG when that QEMU exits or does not reach the agent within
/// <see cref="GuestQemuOptions.KvmProbeTimeout"/>. Disposing kills QEMU.
/// </summary>
public sealed class GuestQemu : IAsyncDisposable
{
    private static readonly string[] BuildTools = ["apt-get", "dpkg-deb", "cpio", "gzip", "mkfs.ext4", "gcc"];

    private readonly Process _process;

    private GuestQemu(Process process, string accelerator, TimeSpan bootTime, string? kvmFallback, GuestQemuOptions options)
    {
        _process = process;
        Accelerator = accelerator;
        BootTime = bootTime;
        KvmFallback = kvmFallback;
        Options = options;
    }

    /// <summary>The image directory: <c>KATA_GUEST_DIR</c>, else <c>~/.cache/kata-workflows/guest</c> (as guest/build.sh).</summary>
    public static string ImageDirectory { get; } = Environment.GetEnvironmentVariable("KATA_GUEST_DIR") is { Length: > 0 } dir
        ? dir
        : Path.Join(
            Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } cache ? cache : Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
            "kata-workflows",
            "guest");

    /// <summary><c>tcg</c> or <c>kvm</c>: what the booted guest runs on.</summary>
    public string Accelerator { get; }

    /// <summary>From QEMU's launch (the one that booted) to the agent's first answer.</summary>
    public TimeSpan BootTime { get; }

    /// <summary>Why KVM was tried and not used (null when it was not tried or it worked).</summary>
    public string? KvmFallback { get; }

    /// <summary>How the VM is wired.</summary>
    public GuestQemuOptions Options { get; }

    /// <summary>Whether QEMU is still running.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>The guest's console so far (kernel, init and agent lines), for failure messages.</summary>
    public string Console => File.Exists(Options.ConsolePath) ? File.ReadAllText(Options.ConsolePath) : string.Empty;

    /// <summary>What this machine lacks to build and boot the guest (QEMU, the image's build tools), or null.</summary>
    public static string? Missing()
    {
        var missing = BuildTools.Append("qemu-system-x86_64").Where(t => !OnPath(t)).ToArray();
        return missing.Length == 0 ? null : $"missing on this machine: {string.Join(", ", missing)}";
    }

    /// <summary>Runs <c>guest/build.sh</c> on <see cref="ImageDirectory"/>: a second when the image is current, minutes when it rebuilds.</summary>
    public static async Task BuildImageAsync(CancellationToken cancellationToken)
    {
        var repo = AppContext.BaseDirectory;
        while (!File.Exists(Path.Join(repo, "guest", "build.sh")))
        {
            repo = Path.GetDirectoryName(repo.TrimEnd('/')) ?? throw new InvalidOperationException("guest/build.sh not found above " + AppContext.BaseDirectory);
        }

        await RunToolAsync("bash", [Path.Join(repo, "guest", "build.sh"), ImageDirectory], cancellationToken);
    }

    /// <summary>The guest kernel's release, from the image's manifest.</summary>
    public static string KernelRelease() =>
        File.ReadAllLines(Path.Join(ImageDirectory, "manifest"))
            .Single(l => l.StartsWith("kernel_version=", StringComparison.Ordinal))["kernel_version=".Length..];

    /// <summary>
    /// Launches QEMU and waits until <paramref name="agentAnswered"/> (the caller's first call to the agent, through the
    /// socket) completes; with <c>auto</c>, a KVM attempt that fails is killed and the guest booted under TCG.
    /// </summary>
    public static async Task<GuestQemu> BootAsync(GuestQemuOptions options, Func<CancellationToken, Task> agentAnswered, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(agentAnswered);
        var accel = options.Accelerator.ToLowerInvariant();
        if (accel is not ("auto" or "kvm" or "tcg"))
        {
            throw new ArgumentException($"KATA_GUEST_ACCEL / Accelerator must be auto, kvm or tcg, got '{options.Accelerator}'", nameof(options));
        }

        string? fallback = null;
        if (accel == "auto")
        {
            if (KvmOpens(out var why))
            {
                var (kvm, failure) = await TryBootAsync(options, "kvm", agentAnswered, options.KvmProbeTimeout, cancellationToken);
                if (kvm is not null)
                {
                    return kvm;
                }

                fallback = failure;
            }
            else
            {
                fallback = why;
            }
        }

        var (booted, error) = await TryBootAsync(options, accel == "kvm" ? "kvm" : "tcg", agentAnswered, null, cancellationToken);
        return booted is null
            ? throw new InvalidOperationException(error)
            : new GuestQemu(booted._process, booted.Accelerator, booted.BootTime, fallback, options);
    }

    /// <summary>Kills QEMU and waits for it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    private static async Task<(GuestQemu? Booted, string? Failure)> TryBootAsync(
        GuestQemuOptions options, string accel, Func<CancellationToken, Task> agentAnswered, TimeSpan? deadline, CancellationToken cancellationToken)
    {
        if (File.Exists(options.AgentSocket))
        {
            File.Delete(options.AgentSocket);
        }

        var info = new ProcessStartInfo("qemu-system-x86_64")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in Arguments(options, accel))
        {
            info.ArgumentList.Add(argument);
        }

        var started = Stopwatch.StartNew();
        var process = Process.Start(info) ?? throw new InvalidOperationException("qemu-system-x86_64 did not start");
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (deadline is { } d)
        {
            attempt.CancelAfter(d);
        }

        var answered = agentAnswered(attempt.Token);
        var exited = process.WaitForExitAsync(attempt.Token);
        await Task.WhenAny(answered, exited);
        if (answered.IsCompletedSuccessfully)
        {
            return (new GuestQemu(process, accel, started.Elapsed, null, options), null);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var failure = process.HasExited
            ? $"QEMU ({accel}) exited with {process.ExitCode} before the agent answered: {(await stderr).Trim()}"
            : answered.IsFaulted
                ? $"the agent did not answer under {accel} ({started.Elapsed.TotalSeconds:F1} s after launch): {answered.Exception!.GetBaseException().Message}"
                : $"the agent did not answer under {accel} within {deadline}";
        var console = File.Exists(options.ConsolePath) ? File.ReadAllText(options.ConsolePath) : string.Empty;
        failure += $"\nconsole (last lines):\n{(console.Length > 3000 ? console[^3000..] : console)}";

        await attempt.CancelAsync();
        await answered.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!process.HasExited)
        {
            process.Kill();
        }

        await process.WaitForExitAsync(CancellationToken.None);
        process.Dispose();
        return (null, failure);
    }

    private static List<string> Arguments(GuestQemuOptions options, string accel)
    {
        List<string> args =
        [
            "-machine", $"q35,accel={accel}", "-m", options.MemoryMiB.ToString(CultureInfo.InvariantCulture),
            "-smp", options.Cpus.ToString(CultureInfo.InvariantCulture), "-nographic", "-nodefaults", "-no-reboot",
            "-serial", $"file:{options.ConsolePath}",
            "-kernel", Path.Join(ImageDirectory, "vmlinuz"), "-initrd", Path.Join(ImageDirectory, "initrd.gz"),
            "-append", "console=ttyS0 quiet panic=-1",
            "-device", "virtio-serial-pci",
            "-chardev", $"socket,path={options.AgentSocket},server=on,wait=off,id=agent",
            "-device", "virtserialport,chardev=agent,name=agent.channel.0",
        ];
        if (accel == "kvm")
        {
            args.AddRange(["-cpu", "host"]);
        }

        if (options.SharedDirectory is { } shared)
        {
            args.AddRange(["-fsdev", $"local,id=share,path={shared},security_model=none", "-device", "virtio-9p-pci,fsdev=share,mount_tag=kataShared"]);
        }

        if (options.Disk is { } disk)
        {
            args.AddRange(["-drive", $"file={disk},if=none,id=disk0,format=raw", "-device", "virtio-blk-pci,drive=disk0"]);
        }

        if (options.NicMac is { } mac)
        {
            args.AddRange(["-netdev", "user,id=net0,restrict=on", "-device", $"virtio-net-pci,netdev=net0,mac={mac}"]);
        }

        return args;
    }

    private static bool KvmOpens(out string? why)
    {
        try
        {
            using var kvm = new FileStream("/dev/kvm", FileMode.Open, FileAccess.ReadWrite);
            why = null;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            why = $"/dev/kvm: {e.Message}";
            return false;
        }
    }

    /// <summary>Runs a tool (cp, umount...) to its end; a non-zero exit is an exception with its output.</summary>
    public static async Task RunToolAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
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
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => File.Exists(Path.Join(directory, tool)));
}
