using KataWorkflows.Activities.Agents.Noop;
using KataWorkflows.Activities.Faults;
using KataWorkflows.Activities.Hypervisors.Mock;
using KataWorkflows.Activities.Networks.None;
using KataWorkflows.Activities.Store;
using KataWorkflows.Engine.Worker;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.DependencyInjection;

namespace KataWorkflows.Activities.Tests;

/// <summary>The activities' services over a temporary run root, with optional fault rules.</summary>
internal sealed class TestServices : IDisposable
{
    private readonly bool _ownsRoot;

    private TestServices(ServiceProvider provider, string root, bool ownsRoot)
    {
        Provider = provider;
        Root = root;
        _ownsRoot = ownsRoot;
    }

    public ServiceProvider Provider { get; }

    public string Root { get; }

    public MockHypervisor Hypervisor => Provider.GetRequiredService<MockHypervisor>();

    public NoopAgent Agent => Provider.GetRequiredService<NoopAgent>();

    public NoneNetwork Network => Provider.GetRequiredService<NoneNetwork>();

    public SandboxFileStore Store => Provider.GetRequiredService<SandboxFileStore>();

    public FaultInjector Faults => Provider.GetRequiredService<FaultInjector>();

    public static TestServices Create(string? faults = null, string? root = null, Action<IServiceCollection>? configure = null)
    {
        var ownsRoot = root is null;
        root ??= TempRoot();
        var services = new ServiceCollection().AddLogging();
        services.AddSandboxDrivers(s => s.RunRoot = root, f => f.Spec = faults);
        configure?.Invoke(services);
        return new TestServices(services.BuildServiceProvider(validateScopes: true), root, ownsRoot);
    }

    public static string TempRoot() => Path.Combine(Path.GetTempPath(), "kwf-activities-" + Guid.NewGuid().ToString("N"));

    /// <summary>
    /// Runs an activity as its SDK interface is called (the worker's shim calls the same), with the shutdown token the
    /// worker hands its activities; a failure comes back as what the activity threw.
    /// </summary>
    public async Task<T> RunAsync<T>(string activity, object input, CancellationToken cancellationToken = default)
    {
        var instance = SandboxActivitiesRegistryExtensions.CreateActivity(Provider, activity);
        using (ActivityExecution.Enter(1, cancellationToken))
        {
            return (T)(await instance.RunAsync(new TestActivityContext(activity, "test-instance"), input))!;
        }
    }

    public void Dispose()
    {
        Provider.Dispose();
        if (_ownsRoot && Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }
}

/// <summary>Sandboxes on the mock hypervisor, the noop agent and the none network.</summary>
internal static class TestSandboxes
{
    public static SandboxTarget Target(string id) => new(id, "mock", "noop", "none");

    public static SandboxConfig Config(string id, params string[] containers) => new SandboxConfig
    {
        Id = id,
        HypervisorType = "mock",
        AgentType = "noop",
        HypervisorConfig = new HypervisorConfig { KernelPath = "/usr/share/kata/vmlinuz", ImagePath = "/usr/share/kata/kata.img" },
        NetworkConfig = new NetworkConfig { InterworkingModel = "none" },
        Containers = containers.Select(c => new ContainerConfig { Id = c, RootFs = $"/run/rootfs/{c}", Cmd = new Cmd { Args = ["/bin/sh"] } }).ToList(),
    }.Validated();

    public static VmRequest Vm(string id, VmState? vm = null, bool force = false) => new(Target(id), Config(id), new NetworkState(), vm, force);

    public static ContainersRequest Containers(string id, bool force = false, params string[] containers) =>
        new(Target(id), Config(id, containers).Containers, force);
}

/// <summary>The SDK's activity context for an activity run outside a worker.</summary>
internal sealed class TestActivityContext(string name, string instanceId) : Microsoft.DurableTask.TaskActivityContext
{
    public override Microsoft.DurableTask.TaskName Name { get; } = name;

    public override string InstanceId { get; } = instanceId;
}
