using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Orchestrations.Tests.Model;

public sealed class ContainerResourcesTests
{
    [Theory]
    [InlineData(null, null, null)]
    [InlineData(1000L, 1000L, 4L * 1024 * 1024)]
    [InlineData(1_000_000L, -1L, 1L << 40)]
    [InlineData(100_000L, 50_000L, null)]
    public void Values_in_range_are_accepted(long? period, long? quota, long? memory)
    {
        new ContainerResources { CpuPeriod = period, CpuQuota = quota, MemoryLimitBytes = memory }.Validate("resources");
    }

    [Theory]
    [InlineData(999L, null, null, "resources.cpuPeriod")]
    [InlineData(1_000_001L, null, null, "resources.cpuPeriod")]
    [InlineData(null, 999L, null, "resources.cpuQuota")]
    [InlineData(null, 0L, null, "resources.cpuQuota")]
    [InlineData(null, -2L, null, "resources.cpuQuota")]
    [InlineData(null, null, 4L * 1024 * 1024 - 1, "resources.memoryLimitBytes")]
    [InlineData(null, null, 0L, "resources.memoryLimitBytes")]
    public void Values_out_of_range_are_refused_naming_the_field(long? period, long? quota, long? memory, string field)
    {
        var ex = Assert.Throws<InvalidSandboxArgumentException>(() => new ContainerResources { CpuPeriod = period, CpuQuota = quota, MemoryLimitBytes = memory }.Validate("resources"));
        Assert.Equal(field, ex.Field);
        Assert.StartsWith(field, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Merging_replaces_the_values_given_and_keeps_the_rest()
    {
        var old = new ContainerResources { CpuPeriod = 100_000, CpuQuota = 50_000, MemoryLimitBytes = 64L << 20 };

        var merged = new ContainerResources { CpuQuota = 20_000 }.MergeInto(old);

        Assert.Equal(new ContainerResources { CpuPeriod = 100_000, CpuQuota = 20_000, MemoryLimitBytes = 64L << 20 }, merged);
    }

    [Fact]
    public void Merging_into_nothing_gives_the_new_values()
    {
        Assert.Equal(new ContainerResources { MemoryLimitBytes = 8L << 20 }, new ContainerResources { MemoryLimitBytes = 8L << 20 }.MergeInto(null));
    }
}
