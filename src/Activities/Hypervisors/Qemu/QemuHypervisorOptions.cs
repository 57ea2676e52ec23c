namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>The QEMU hypervisor driver's host settings (section <see cref="SectionName"/>), validated at start.</summary>
public sealed class QemuHypervisorOptions
{
    /// <summary>The configuration section these options are usually bound from.</summary>
    public const string SectionName = "Qemu";

    /// <summary>The QEMU binary: a name looked up on PATH, or an absolute path.</summary>
    public string QemuPath { get; set; } = "qemu-system-x86_64";

    /// <summary>The <c>nsenter</c> binary that starts QEMU inside a sandbox's network namespace: a name on PATH, or an absolute path.</summary>
    public string NsenterPath { get; set; } = "nsenter";

    /// <summary>How the vCPUs run: <c>Auto</c> (KVM when a probe boot works, else TCG), <c>Kvm</c> or <c>Tcg</c>.</summary>
    public QemuAccelerator Accelerator { get; set; } = QemuAccelerator.Auto;

    /// <summary>
    /// The guest image directory that <c>guest/build.sh</c> fills (<c>vmlinuz</c>, <c>initrd.gz</c>): the kernel and
    /// initramfs a sandbox boots when its config names none. Defaults to what the script uses: <c>$KATA_GUEST_DIR</c>,
    /// else <c>${XDG_CACHE_HOME:-$HOME/.cache}/kata-workflows/guest</c>.
    /// </summary>
    public string GuestImageDirectory { get; set; } = DefaultGuestImageDirectory();

    /// <summary>The most memory one sandbox's VM may have, in MiB; a config asking for more is refused.</summary>
    public int MaxMemoryMiB { get; set; } = 8192;

    /// <summary>The most vCPUs one sandbox's VM may have; a config asking for more is refused.</summary>
    public int MaxVCpus { get; set; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>
    /// How long a VM may take from launch until its guest opens the agent channel; a guest that is not up by then is
    /// stopped and reported with the tail of its console log. TCG on a busy 2-core host takes 8-15 s.
    /// </summary>
    public TimeSpan BootTimeout { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>How long a stopping VM may take to exit after QMP <c>quit</c> before it is killed with SIGKILL.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one QMP command may take.</summary>
    public TimeSpan QmpTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the guest may take to release a hot-unplugged device (<c>DEVICE_DELETED</c>).</summary>
    public TimeSpan DeviceRemoveTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the KVM probe boot may take before KVM is judged unusable (only with <c>Auto</c>).</summary>
    public TimeSpan AcceleratorProbeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The most disk the console log of one VM may use, in bytes: <c>console.log</c> is rotated to
    /// <c>console.log.1</c> at half of it, so the two files never hold more than this.
    /// </summary>
    public long ConsoleLogMaxBytes { get; set; } = 1024 * 1024;

    /// <summary>PCIe root ports left free for hot-plugged NICs and disks (one device each), besides one per cold-plugged NIC.</summary>
    public int HotplugSlots { get; set; } = 8;

    /// <summary>The guest image directory's default, as <c>guest/build.sh</c> computes it.</summary>
    public static string DefaultGuestImageDirectory()
    {
        if (Environment.GetEnvironmentVariable("KATA_GUEST_DIR") is { Length: > 0 } explicitDirectory)
        {
            return explicitDirectory;
        }

        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Join(cache, "kata-workflows", "guest");
    }
}
