using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Tests.Harness;

namespace KataWorkflows.Orchestrations.Tests.Model;

public sealed class SandboxConfigTests
{
    [Fact]
    public void A_valid_config_gets_the_hypervisor_defaults()
    {
        var config = TestSandboxes.Config("sb1", "c1").Validated();

        Assert.Equal(2048, config.HypervisorConfig.MemorySizeMiB);
        Assert.Equal("mock", config.HypervisorType);
        Assert.Equal("noop", config.AgentType);
        Assert.Equal(["c1"], config.Containers.Select(c => c.Id));
    }

    [Fact]
    public void Duplicated_container_ids_are_Katas_Duplicated_container()
    {
        var ex = Assert.Throws<InvalidSandboxArgumentException>(() => TestSandboxes.Config("sb1", "c1", "x", "x").Validated());
        Assert.Equal("Duplicated container: x", ex.Message);
        Assert.Equal("sandboxConfig.containers[2].id", ex.Field);
    }

    [Theory]
    [InlineData("firecracker")]
    [InlineData("")]
    [InlineData("QEMU")]
    [InlineData("qemu")]
    public void An_unknown_hypervisor_type_becomes_qemu(string type)
    {
        Assert.Equal("qemu", (TestSandboxes.Config("sb1") with { HypervisorType = type }).Validated().HypervisorType);
    }

    [Theory]
    [InlineData("hyperstart")]
    [InlineData("")]
    [InlineData("noop")]
    public void An_unknown_agent_type_becomes_noop(string type)
    {
        Assert.Equal("noop", (TestSandboxes.Config("sb1") with { AgentType = type }).Validated().AgentType);
    }

    [Fact]
    public void The_kata_agent_is_kept()
    {
        Assert.Equal("kata", (TestSandboxes.Config("sb1") with { AgentType = "kata" }).Validated().AgentType);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void An_empty_id_is_Katas_Sandbox_ID_cannot_be_empty(string? id)
    {
        var ex = Assert.Throws<InvalidSandboxArgumentException>(() => (TestSandboxes.Config("sb1") with { Id = id! }).Validated());
        Assert.Equal("Sandbox ID cannot be empty", ex.Message);
        Assert.Equal("sandboxConfig.id", ex.Field);
    }

    [Fact]
    public void An_empty_container_id_names_the_container()
    {
        var config = TestSandboxes.Config("sb1") with { Containers = [TestSandboxes.Container("c1"), new ContainerConfig()] };
        var ex = Assert.Throws<InvalidSandboxArgumentException>(config.Validated);
        Assert.Equal("Container ID cannot be empty", ex.Message);
        Assert.Equal("sandboxConfig.containers[1].id", ex.Field);
    }

    [Fact]
    public void An_invalid_hypervisor_config_is_refused()
    {
        var config = TestSandboxes.Config("sb1") with { HypervisorConfig = new HypervisorConfig { ImagePath = "/i" } };
        Assert.Equal("Missing kernel path", Assert.Throws<InvalidSandboxArgumentException>(config.Validated).Message);
    }

    [Fact]
    public void An_unknown_interworking_model_is_refused()
    {
        var config = TestSandboxes.Config("sb1") with { NetworkConfig = new NetworkConfig { InterworkingModel = "bridged" } };
        Assert.Equal("sandboxConfig.networkConfig.interworkingModel", Assert.Throws<InvalidSandboxArgumentException>(config.Validated).Field);
    }

    [Fact]
    public void A_negative_shm_size_is_refused()
    {
        var config = TestSandboxes.Config("sb1") with { ShmSize = -1 };
        Assert.Equal("sandboxConfig.shmSize", Assert.Throws<InvalidSandboxArgumentException>(config.Validated).Field);
    }

    [Fact]
    public void Container_resources_are_validated_with_the_container()
    {
        var config = TestSandboxes.Config("sb1") with
        {
            Containers = [TestSandboxes.Container("c1") with { Resources = new ContainerResources { CpuPeriod = 10 } }],
        };
        Assert.Equal("sandboxConfig.containers[0].resources.cpuPeriod", Assert.Throws<InvalidSandboxArgumentException>(config.Validated).Field);
    }
}
