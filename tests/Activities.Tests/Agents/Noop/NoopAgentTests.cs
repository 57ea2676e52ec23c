using KataWorkflows.Activities.Agents;
using KataWorkflows.Activities.Agents.Noop;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Tests.Agents.Noop;

public sealed class NoopAgentTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CreateContainer_returns_pid_0_and_an_empty_token_and_is_idempotent()
    {
        var agent = new NoopAgent(TimeProvider.System);
        var config = new ContainerConfig { Id = "c1" };

        var first = await agent.CreateContainerAsync("sb1", config, Ct);
        var second = await agent.CreateContainerAsync("sb1", config, Ct);

        Assert.Equal(0, first.Pid);
        Assert.Equal(string.Empty, first.Token);
        Assert.Equal(first, second);
        Assert.Equal(["c1"], agent.ContainersOf("sb1"));
    }

    [Fact]
    public async Task RemoveContainer_forgets_the_container_and_removing_again_is_a_no_op()
    {
        var agent = new NoopAgent(TimeProvider.System);
        await agent.CreateContainerAsync("sb1", new ContainerConfig { Id = "c1" }, Ct);
        await agent.CreateContainerAsync("sb1", new ContainerConfig { Id = "c2" }, Ct);

        await agent.RemoveContainerAsync("sb1", "c1", Ct);
        await agent.RemoveContainerAsync("sb1", "c1", Ct);
        await agent.RemoveContainerAsync("unknown", "c1", Ct);

        Assert.Equal(["c2"], agent.ContainersOf("sb1"));
    }

    [Fact]
    public async Task DestroySandbox_forgets_the_guest_with_its_containers_and_is_idempotent()
    {
        var agent = new NoopAgent(TimeProvider.System);
        await agent.CreateSandboxAsync("sb1", TestSandboxes.Config("sb1"), Ct);
        await agent.CreateContainerAsync("sb1", new ContainerConfig { Id = "c1" }, Ct);

        await agent.DestroySandboxAsync("sb1", Ct);
        await agent.DestroySandboxAsync("sb1", Ct);

        Assert.Empty(agent.Sandboxes);
        Assert.Empty(agent.ContainersOf("sb1"));
    }

    [Fact]
    public async Task Queries_return_zeros_and_empty_lists_like_Kata_noop_agent()
    {
        var agent = new NoopAgent(TimeProvider.System);

        Assert.Equal(new GuestDetails(), await agent.GetGuestDetailsAsync("sb1", Ct));
        Assert.Equal(ContainerStats.Empty, await agent.StatsContainerAsync("sb1", "c1", Ct));
        Assert.Empty(await agent.ListProcessesAsync("sb1", "c1", Ct));
        Assert.Empty(await agent.ListInterfacesAsync("sb1", Ct));
        Assert.Empty(await agent.ListRoutesAsync("sb1", Ct));
        Assert.Equal(0, await agent.WaitProcessAsync("sb1", "c1", string.Empty, Ct));
        var process = await agent.ExecProcessAsync("sb1", "c1", new Cmd { Args = ["/bin/true"] }, Ct);
        Assert.Equal((0, string.Empty), (process.Pid, process.Token));
    }

    [Fact]
    public async Task Interface_and_route_updates_are_echoed_and_listed()
    {
        var agent = new NoopAgent(TimeProvider.System);
        var eth0 = new InterfaceRecord { Name = "eth0", HwAddr = "02:00:00:00:00:01", IpAddresses = ["10.0.0.2/24"] };
        var routes = new[] { new RouteRecord { Dest = "10.0.0.0/24", Device = "eth0" } };

        Assert.Equal(eth0, await agent.UpdateInterfaceAsync("sb1", eth0, Ct));
        Assert.Equal(eth0 with { Mtu = 9000 }, await agent.UpdateInterfaceAsync("sb1", eth0 with { Mtu = 9000 }, Ct));
        Assert.Equal(routes, await agent.UpdateRoutesAsync("sb1", routes, Ct));

        Assert.Equal([eth0 with { Mtu = 9000 }], await agent.ListInterfacesAsync("sb1", Ct));
        Assert.Equal(routes, await agent.ListRoutesAsync("sb1", Ct));
    }
}
