using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Harness;

/// <summary>Configurations and requests for sandboxes on the mock hypervisor, the noop agent and no interworking.</summary>
public static class TestSandboxes
{
    /// <summary>A valid sandbox configuration with the given containers.</summary>
    public static SandboxConfig Config(string id, params string[] containers) => new()
    {
        Id = id,
        HypervisorType = "mock",
        AgentType = "noop",
        HypervisorConfig = new HypervisorConfig { KernelPath = "/usr/share/kata/vmlinuz", ImagePath = "/usr/share/kata/kata.img" },
        NetworkConfig = new NetworkConfig { InterworkingModel = "none" },
        Containers = [.. containers.Select(Container)],
    };

    /// <summary>A valid container configuration.</summary>
    public static ContainerConfig Container(string id) => new() { Id = id, RootFs = $"/run/rootfs/{id}", Cmd = new Cmd { Args = ["/bin/sh"] } };

    /// <summary>A CreateSandbox or RunSandbox request.</summary>
    public static SandboxRequest Create(string id, params string[] containers) => new() { SandboxId = id, Config = Config(id, containers) };

    /// <summary>A request naming only the sandbox.</summary>
    public static SandboxRequest Sandbox(string id, bool force = false) => new() { SandboxId = id, Force = force };

    /// <summary>A request naming a container of the sandbox.</summary>
    public static SandboxRequest Container(string id, string containerId, bool force = false) => new() { SandboxId = id, ContainerId = containerId, Force = force };

    /// <summary>A CreateContainer request.</summary>
    public static SandboxRequest NewContainer(string id, string containerId) => new() { SandboxId = id, Container = Container(containerId) };

    /// <summary>The calls that name a container (the container id must not be empty).</summary>
    public static IReadOnlyList<string> ContainerCalls { get; } =
    [
        Ops.StartContainer, Ops.StopContainer, Ops.DeleteContainer, Ops.KillContainer, Ops.UpdateContainer,
        Ops.PauseContainer, Ops.ResumeContainer, Ops.EnterContainer, Ops.CleanupContainer,
    ];

    /// <summary>
    /// A well-formed request for <paramref name="operation"/> on a sandbox (and container): every argument the call
    /// checks is valid, so only the ids and the sandbox's state decide the outcome.
    /// </summary>
    public static SandboxRequest ValidRequest(string operation, string sandboxId, string containerId = "c1") => operation switch
    {
        Ops.CreateSandbox or Ops.RunSandbox => Create(sandboxId, containerId),
        Ops.CreateContainer => NewContainer(sandboxId, containerId),
        Ops.KillContainer => Container(sandboxId, containerId) with { Signal = 15 },
        Ops.UpdateContainer => Container(sandboxId, containerId) with { Resources = new ContainerResources { CpuQuota = 50_000 } },
        Ops.EnterContainer => Container(sandboxId, containerId) with { Cmd = new Cmd { Args = ["/bin/ls"] } },
        Ops.AddDevice => Sandbox(sandboxId) with { Device = new DeviceRecord { Id = "d1", HostPath = "/dev/loop0" } },
        Ops.AddInterface => Sandbox(sandboxId) with { Interface = new InterfaceRecord { Name = "eth1", IpAddresses = ["10.0.0.2/24"] } },
        Ops.RemoveInterface => Sandbox(sandboxId) with { Interface = new InterfaceRecord { HwAddr = "02:00:00:00:00:01" } },
        Ops.UpdateRoutes => Sandbox(sandboxId) with { Routes = [new RouteRecord { Dest = "10.1.0.0/16", Gateway = "10.0.0.1", Device = "eth1" }] },
        _ when ContainerCalls.Contains(operation) => Container(sandboxId, containerId),
        _ => Sandbox(sandboxId),
    };
}
