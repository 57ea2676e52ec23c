namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>The accelerator the driver boots VMs with, and why.</summary>
/// <param name="Accelerator"><see cref="QemuAccelerator.Kvm"/> or <see cref="QemuAccelerator.Tcg"/>.</param>
/// <param name="Reason">Why: the setting, or what the KVM probe saw.</param>
public sealed record AcceleratorVerdict(QemuAccelerator Accelerator, string Reason);
