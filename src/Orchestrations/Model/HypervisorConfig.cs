namespace KataWorkflows.Orchestrations.Model;

/// <summary>How the sandbox's VM is built (a subset of Kata's <c>HypervisorConfig</c>).</summary>
public sealed record HypervisorConfig
{
    /// <summary>Kata's default vCPU count.</summary>
    public const int DefaultVCpus = 1;

    /// <summary>Kata's default memory, in MiB.</summary>
    public const int DefaultMemoryMiB = 2048;

    /// <summary>Kata's default maximum vCPUs on x86.</summary>
    public const int DefaultMaxVCpusX86 = 240;

    /// <summary>The guest kernel.</summary>
    public string? KernelPath { get; init; }

    /// <summary>The guest root image.</summary>
    public string? ImagePath { get; init; }

    /// <summary>The guest initrd (instead of an image).</summary>
    public string? InitrdPath { get; init; }

    /// <summary>The hypervisor binary (QEMU).</summary>
    public string? HypervisorPath { get; init; }

    /// <summary>Extra kernel parameters.</summary>
    public string? KernelParams { get; init; }

    /// <summary>vCPUs at boot.</summary>
    public int NumVCpus { get; init; }

    /// <summary>Maximum vCPUs.</summary>
    public int DefaultMaxVCpus { get; init; }

    /// <summary>Memory at boot, in MiB.</summary>
    public int MemorySizeMiB { get; init; }

    /// <summary>PCI bridges.</summary>
    public int DefaultBridges { get; init; }

    /// <summary>The block device driver.</summary>
    public string? BlockDeviceDriver { get; init; }

    /// <summary>The 9p msize.</summary>
    public int Msize9p { get; init; }

    /// <summary>
    /// Kata's <c>valid()</c>: a kernel and an image or initrd are required; unset numbers take Kata's defaults
    /// (1 vCPU, 2048 MiB, 1 bridge, virtio-scsi, 240 max vCPUs, msize 8192).
    /// </summary>
    /// <exception cref="InvalidSandboxArgumentException">The kernel, or both image and initrd, are missing; or a number is negative.</exception>
    public HypervisorConfig Validated()
    {
        if (string.IsNullOrEmpty(KernelPath))
        {
            throw new InvalidSandboxArgumentException("hypervisorConfig.kernelPath", "Missing kernel path");
        }

        if (string.IsNullOrEmpty(ImagePath) && string.IsNullOrEmpty(InitrdPath))
        {
            throw new InvalidSandboxArgumentException("hypervisorConfig.imagePath", "Missing image and initrd path");
        }

        if (!string.IsNullOrEmpty(ImagePath) && !string.IsNullOrEmpty(InitrdPath))
        {
            throw new InvalidSandboxArgumentException("hypervisorConfig.initrdPath", "Image and initrd path cannot be both set");
        }

        NotNegative(NumVCpus, "numVCpus");
        NotNegative(MemorySizeMiB, "memorySizeMiB");
        NotNegative(DefaultBridges, "defaultBridges");
        NotNegative(DefaultMaxVCpus, "defaultMaxVCpus");
        NotNegative(Msize9p, "msize9p");
        var maxVCpus = DefaultMaxVCpus == 0 || DefaultMaxVCpus > DefaultMaxVCpusX86 ? DefaultMaxVCpusX86 : DefaultMaxVCpus;
        var vcpus = NumVCpus == 0 ? DefaultVCpus : NumVCpus;
        if (vcpus > maxVCpus)
        {
            throw new InvalidSandboxArgumentException("hypervisorConfig.numVCpus", $"hypervisorConfig.numVCpus: {vcpus} is more than the maximum of {maxVCpus}");
        }

        return this with
        {
            NumVCpus = vcpus,
            MemorySizeMiB = MemorySizeMiB == 0 ? DefaultMemoryMiB : MemorySizeMiB,
            DefaultBridges = DefaultBridges == 0 ? 1 : DefaultBridges,
            BlockDeviceDriver = string.IsNullOrEmpty(BlockDeviceDriver) ? "virtio-scsi" : BlockDeviceDriver,
            DefaultMaxVCpus = maxVCpus,
            Msize9p = Msize9p == 0 ? 8192 : Msize9p,
        };

        static void NotNegative(int value, string name)
        {
            if (value < 0)
            {
                throw new InvalidSandboxArgumentException($"hypervisorConfig.{name}", $"hypervisorConfig.{name} must not be negative, got {value}");
            }
        }
    }
}
