using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Orchestrations.Tests.Model;

public sealed class HypervisorConfigTests
{
    private static readonly HypervisorConfig Minimal = new() { KernelPath = "/k", ImagePath = "/i" };

    [Fact]
    public void Unset_numbers_take_Katas_defaults()
    {
        var config = Minimal.Validated();

        Assert.Equal(1, config.NumVCpus);
        Assert.Equal(2048, config.MemorySizeMiB);
        Assert.Equal(1, config.DefaultBridges);
        Assert.Equal("virtio-scsi", config.BlockDeviceDriver);
        Assert.Equal(240, config.DefaultMaxVCpus);
        Assert.Equal(8192, config.Msize9p);
        Assert.Equal("/k", config.KernelPath);
        Assert.Equal("/i", config.ImagePath);
    }

    [Fact]
    public void Values_given_are_kept()
    {
        var config = (Minimal with { NumVCpus = 4, MemorySizeMiB = 512, DefaultBridges = 2, BlockDeviceDriver = "virtio-blk", DefaultMaxVCpus = 8, Msize9p = 1024 }).Validated();

        Assert.Equal((4, 512, 2, "virtio-blk", 8, 1024), (config.NumVCpus, config.MemorySizeMiB, config.DefaultBridges, config.BlockDeviceDriver, config.DefaultMaxVCpus, config.Msize9p));
    }

    [Fact]
    public void More_maximum_vCPUs_than_x86_allows_are_capped()
    {
        Assert.Equal(240, (Minimal with { DefaultMaxVCpus = 1000 }).Validated().DefaultMaxVCpus);
    }

    [Fact]
    public void An_initrd_instead_of_an_image_is_valid()
    {
        var config = new HypervisorConfig { KernelPath = "/k", InitrdPath = "/initrd" }.Validated();
        Assert.Equal("/initrd", config.InitrdPath);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void A_missing_kernel_is_Katas_Missing_kernel_path(string? kernel)
    {
        var ex = Assert.Throws<InvalidSandboxArgumentException>(() => (Minimal with { KernelPath = kernel }).Validated());
        Assert.Equal("Missing kernel path", ex.Message);
        Assert.Equal("hypervisorConfig.kernelPath", ex.Field);
    }

    [Fact]
    public void Neither_image_nor_initrd_is_Katas_Missing_image_and_initrd_path()
    {
        var ex = Assert.Throws<InvalidSandboxArgumentException>(() => new HypervisorConfig { KernelPath = "/k", ImagePath = "" }.Validated());
        Assert.Equal("Missing image and initrd path", ex.Message);
        Assert.Equal("hypervisorConfig.imagePath", ex.Field);
    }

    [Fact]
    public void Both_image_and_initrd_are_refused()
    {
        var ex = Assert.Throws<InvalidSandboxArgumentException>(() => (Minimal with { InitrdPath = "/initrd" }).Validated());
        Assert.Equal("hypervisorConfig.initrdPath", ex.Field);
    }

    [Theory]
    [InlineData(nameof(HypervisorConfig.NumVCpus), "hypervisorConfig.numVCpus")]
    [InlineData(nameof(HypervisorConfig.MemorySizeMiB), "hypervisorConfig.memorySizeMiB")]
    [InlineData(nameof(HypervisorConfig.DefaultBridges), "hypervisorConfig.defaultBridges")]
    [InlineData(nameof(HypervisorConfig.DefaultMaxVCpus), "hypervisorConfig.defaultMaxVCpus")]
    [InlineData(nameof(HypervisorConfig.Msize9p), "hypervisorConfig.msize9p")]
    public void A_negative_number_is_refused_naming_its_field(string property, string field)
    {
        var config = property switch
        {
            nameof(HypervisorConfig.NumVCpus) => Minimal with { NumVCpus = -1 },
            nameof(HypervisorConfig.MemorySizeMiB) => Minimal with { MemorySizeMiB = -1 },
            nameof(HypervisorConfig.DefaultBridges) => Minimal with { DefaultBridges = -1 },
            nameof(HypervisorConfig.DefaultMaxVCpus) => Minimal with { DefaultMaxVCpus = -1 },
            _ => Minimal with { Msize9p = -1 },
        };

        var ex = Assert.Throws<InvalidSandboxArgumentException>(config.Validated);
        Assert.Equal(field, ex.Field);
        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void More_vCPUs_than_the_maximum_are_refused()
    {
        var ex = Assert.Throws<InvalidSandboxArgumentException>(() => (Minimal with { NumVCpus = 9, DefaultMaxVCpus = 8 }).Validated());
        Assert.Equal("hypervisorConfig.numVCpus", ex.Field);
    }
}
