using System.Diagnostics;
using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Activities.Store;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>
/// Kata's QEMU driver (HypervisorType <c>qemu</c>) adapted to the project's guest: one QEMU per sandbox on a q35 machine,
/// started from an argument list (never a shell; inside the sandbox's network namespace through <c>nsenter</c>),
/// daemonized and found again by its pid file and command line; driven over QMP for health, pause and resume, stop and
/// hot-plug. Its run directory is <c>&lt;HostStore:RunRoot&gt;/vm/&lt;id&gt;/</c> (<see cref="QemuRunDirectory"/>); the
/// agent channel is a virtio-serial port on the socket the Kata agent driver dials, and the sandbox's shared directory
/// is exported as 9p <c>kataShared</c>. Every call is idempotent: a second start returns the VM the first one started
/// (also from a new host process), a stop of a VM that is gone succeeds, a device or NIC already plugged is returned.
/// </summary>
public sealed partial class QemuHypervisor : IHypervisor, IAsyncDisposable
{
    /// <summary>The hypervisor type name.</summary>
    public const string TypeName = "qemu";

    /// <summary>The name of the agent's virtio-serial port, which the guest's init looks for.</summary>
    public const string AgentPortName = "agent.channel.0";

    /// <summary>The QEMU id of the agent's port, named in its <c>VSERPORT_CHANGE</c> events.</summary>
    public const string AgentPortId = "channel0";

    private const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly QemuHypervisorOptions _options;
    private readonly HostStoreOptions _store;
    private readonly KataAgentOptions _agent;
    private readonly TimeProvider _time;
    private readonly ILogger<QemuHypervisor> _logger;
    private readonly KeyedLock _locks = new();
    private readonly Lock _consoleGate = new();
    private readonly Dictionary<string, QemuConsoleLog> _consoles = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _probeGate = new(1, 1);
    private AcceleratorVerdict? _verdict;

    /// <summary>Creates the driver.</summary>
    public QemuHypervisor(
        IOptions<QemuHypervisorOptions> options,
        IOptions<HostStoreOptions> store,
        IOptions<KataAgentOptions> agent,
        TimeProvider time,
        ILogger<QemuHypervisor> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options.Value;
        _store = store.Value;
        _agent = agent.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>The run directory of a sandbox's VM.</summary>
    public QemuRunDirectory RunDirectoryOf(string sandboxId) => QemuRunDirectory.For(_store.RunRoot, sandboxId);

    /// <summary>The host directory a sandbox's guest sees as the 9p share <c>kataShared</c>.</summary>
    public string ShareOf(string sandboxId) => KataGuestLayout.HostShare(_agent.SharedDirectory, sandboxId);

    /// <summary>
    /// The accelerator VMs boot with: the setting when it is <c>Kvm</c> or <c>Tcg</c>; with <c>Auto</c>, the verdict of
    /// a KVM probe boot of <paramref name="kernelPath"/> (<see cref="AcceleratorProbe"/>), made once and kept.
    /// </summary>
    public async Task<AcceleratorVerdict> ResolveAcceleratorAsync(string kernelPath, CancellationToken cancellationToken)
    {
        switch (_options.Accelerator)
        {
            case QemuAccelerator.Kvm:
                return new AcceleratorVerdict(QemuAccelerator.Kvm, $"{QemuHypervisorOptions.SectionName}:Accelerator is Kvm");
            case QemuAccelerator.Tcg:
                return new AcceleratorVerdict(QemuAccelerator.Tcg, $"{QemuHypervisorOptions.SectionName}:Accelerator is Tcg");
        }

        if (Volatile.Read(ref _verdict) is { } known)
        {
            return known;
        }

        await _probeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_verdict is null)
            {
                var verdict = await AcceleratorProbe.ProbeAsync(_options.QemuPath, kernelPath, _options.AcceleratorProbeTimeout, cancellationToken).ConfigureAwait(false);
                QemuLog.AcceleratorChosen(_logger, verdict.Accelerator, verdict.Reason);
                Volatile.Write(ref _verdict, verdict);
            }

            return _verdict;
        }
        finally
        {
            _probeGate.Release();
        }
    }

    /// <inheritdoc />
    /// <exception cref="QemuBootException">QEMU refused to start, exited, or the guest did not come up in time; nothing is left running.</exception>
    public async Task<VmState> StartVmAsync(string sandboxId, SandboxConfig config, NetworkState? network, CancellationToken cancellationToken)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        ArgumentNullException.ThrowIfNull(config);
        var plan = Plan(sandboxId, config, network);
        using var held = await _locks.AcquireAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        var started = Stopwatch.StartNew();
        if (await TryAdoptAsync(plan, started, cancellationToken).ConfigureAwait(false) is { } adopted)
        {
            return adopted;
        }

        var verdict = await ResolveAcceleratorAsync(plan.Kernel, cancellationToken).ConfigureAwait(false);
        PrepareDirectories(plan);
        var uuid = Guid.NewGuid().ToString();
        var (program, arguments) = CommandLine(plan, uuid, verdict.Accelerator == QemuAccelerator.Kvm);
        QemuLog.Launching(_logger, sandboxId, program, string.Join(' ', arguments));
        var pid = await LaunchAsync(plan, program, arguments, started, cancellationToken).ConfigureAwait(false);
        await BootAsync(plan, pid, started, fromPrelaunch: true, cancellationToken).ConfigureAwait(false);
        QemuLog.Booted(_logger, sandboxId, pid, started.Elapsed.TotalSeconds);
        return new VmState { HypervisorType = TypeName, Pid = pid, Uuid = uuid, RunDirectory = plan.Run.Path };
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        List<QemuConsoleLog> consoles;
        lock (_consoleGate)
        {
            consoles = [.. _consoles.Values];
            _consoles.Clear();
        }

        foreach (var console in consoles)
        {
            await console.DisposeAsync().ConfigureAwait(false);
        }

        _probeGate.Dispose();
    }

    private static void CreatePrivateDirectory(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The QEMU hypervisor driver runs on Linux only.");
        }

        Directory.CreateDirectory(path, PrivateDirectory);

        // CreateDirectory leaves an existing directory's mode alone, and the umask applies to a new one.
        File.SetUnixFileMode(path, PrivateDirectory);
    }

    private static void PrepareDirectories(LaunchPlan plan)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The QEMU hypervisor driver runs on Linux only.");
        }

        CreatePrivateDirectory(Path.GetDirectoryName(plan.Run.Path)!);
        if (Directory.Exists(plan.Run.Path))
        {
            // No live QEMU owns it (TryAdoptAsync looked): what is there is left from a VM that is gone.
            Directory.Delete(plan.Run.Path, recursive: true);
        }

        CreatePrivateDirectory(plan.Run.Path);
        if (!Directory.Exists(plan.Share))
        {
            Directory.CreateDirectory(plan.Share, PrivateDirectory);
        }
    }

    private static void MakePrivate(QemuRunDirectory run)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The QEMU hypervisor driver runs on Linux only.");
        }

        // QEMU makes its sockets and files with the process umask; the directory (0700) keeps everyone else out
        // until they are 0600.
        foreach (var path in (string[])[run.QmpSocket, run.ConsoleSocket, run.AgentSocket, run.PidFile])
        {
            if (File.Exists(path))
            {
                File.SetUnixFileMode(path, PrivateFile);
            }
        }
    }
}
