using KataWorkflows.Activities;
using KataWorkflows.Activities.Networks.TcFilter;
using KataWorkflows.Engine.Worker;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.DependencyInjection;

namespace KataWorkflows.Netns.Tests;

/// <summary>The network activities over the tcfilter driver, registered as a host registers it.</summary>
public sealed class ActivityTests : NetnsTest
{
    [Fact]
    public async Task The_undo_of_a_timed_out_create_network_given_no_state_removes_what_the_step_made()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSandboxDrivers(s => s.RunRoot = Host.RunRoot);
        services.AddTcFilterNetwork(o =>
        {
            o.AddressPool = Host.Options.AddressPool;
            o.NetnsPrefix = Host.Options.NetnsPrefix;
            o.HostDevicePrefix = Host.Options.HostDevicePrefix;
        });
        await using var provider = services.BuildServiceProvider(validateScopes: true);
        var target = new SandboxTarget("sb1", "mock", "noop", "tcfilter");

        // The step's result never reached the orchestration (it gave up on it), so its undo runs with no state.
        var made = await RunAsync<NetworkState>(provider, SandboxActivities.CreateNetwork, new NetworkRequest(target, new NetworkConfig()));
        Assert.Equal([Host.NetnsPrefix + "sb1"], Host.Namespaces());
        Assert.True(await RunAsync<bool>(provider, SandboxActivities.RemoveNetwork, new NetworkRequest(target, new NetworkConfig(), State: null, Force: true)));

        Assert.Equal("tap0_kata", made.Endpoints[0].TapDevice);
        Assert.Empty(Host.Namespaces());
        Assert.Empty(await Host.HostDevicesAsync());
        Assert.Empty(await provider.GetRequiredService<TcFilterNetwork>().LeasesAsync(Ct));
    }

    private static async Task<T> RunAsync<T>(IServiceProvider provider, string activity, object input)
    {
        var instance = SandboxActivitiesRegistryExtensions.CreateActivity(provider, activity);
        using (ActivityExecution.Enter(1, Ct))
        {
            return (T)(await instance.RunAsync(new ActivityContext(activity, "test-instance"), input))!;
        }
    }

    /// <summary>The SDK's activity context for an activity run outside a worker.</summary>
    private sealed class ActivityContext(string name, string instanceId) : Microsoft.DurableTask.TaskActivityContext
    {
        public override Microsoft.DurableTask.TaskName Name { get; } = name;

        public override string InstanceId { get; } = instanceId;
    }
}
