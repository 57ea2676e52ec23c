namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>How QEMU runs the guest's vCPUs.</summary>
public enum QemuAccelerator
{
    /// <summary>KVM where a probe boot shows it really boots the guest kernel, else TCG (see <see cref="AcceleratorProbe"/>).</summary>
    Auto,

    /// <summary>KVM (<c>accel=kvm</c>, <c>-cpu host</c>), without a probe.</summary>
    Kvm,

    /// <summary>TCG, QEMU's software emulation (<c>accel=tcg</c>).</summary>
    Tcg,
}
