using KataWorkflows.Activities.Agents.Noop;
using KataWorkflows.Activities.Drivers;
using KataWorkflows.Activities.Hypervisors.Mock;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Tests.Drivers;

/// <summary>With a state directory, what the mock hypervisor and the noop agent "run" outlives the process that started it.</summary>
public sealed class MockDriverStateTests : IDisposable
{
    private readonly string _directory = TestServices.TempRoot();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_new_mock_hypervisor_over_the_same_directory_sees_the_vms_the_previous_one_left_and_not_those_it_stopped()
    {
        var first = new MockHypervisor(Options());
        var kept = await first.StartVmAsync("sb1", TestSandboxes.Config("sb1"), null, Ct);
        await first.StartVmAsync("sb2", TestSandboxes.Config("sb2"), null, Ct);
        await first.PauseVmAsync("sb1", kept, Ct);
        await first.StopVmAsync("sb2", null, Ct);

        var second = new MockHypervisor(Options());

        Assert.Equal(["sb1"], second.RunningVms);
        Assert.True(second.TryGetVm("sb1", out var vm));
        Assert.Equal(kept with { Paused = true }, vm);
        Assert.Equal(["sb1.json"], Directory.EnumerateFiles(Path.Combine(_directory, MockHypervisor.StateSubdirectory)).Select(Path.GetFileName));

        // The same VM is returned by a start after the restart, as a real hypervisor finds its running VM.
        Assert.Equal(vm, await second.StartVmAsync("sb1", TestSandboxes.Config("sb1"), null, Ct));
    }

    [Fact]
    public async Task A_new_noop_agent_over_the_same_directory_sees_the_guests_and_containers_the_previous_one_left()
    {
        var first = new NoopAgent(TimeProvider.System, Options());
        await first.CreateSandboxAsync("sb1", TestSandboxes.Config("sb1"), Ct);
        var c1 = await first.CreateContainerAsync("sb1", new ContainerConfig { Id = "c1" }, Ct);
        await first.CreateContainerAsync("sb1", new ContainerConfig { Id = "c2" }, Ct);
        await first.CreateContainerAsync("sb1", new ContainerConfig { Id = "c3" }, Ct);
        await first.RemoveContainerAsync("sb1", "c2", Ct);
        var iface = await first.UpdateInterfaceAsync("sb1", new InterfaceRecord { Name = "eth0", HwAddr = "02:00:00:00:00:01" }, Ct);
        var routes = await first.UpdateRoutesAsync("sb1", [new RouteRecord { Dest = "10.0.0.0/24", Device = "eth0" }], Ct);
        await first.CreateSandboxAsync("sb2", TestSandboxes.Config("sb2"), Ct);
        await first.CreateContainerAsync("sb2", new ContainerConfig { Id = "c1" }, Ct);
        await first.DestroySandboxAsync("sb2", Ct);

        var second = new NoopAgent(TimeProvider.System, Options());

        Assert.Equal(["sb1"], second.Sandboxes);
        Assert.Equal(["c1", "c3"], second.ContainersOf("sb1"));
        Assert.Equal(c1, await second.CreateContainerAsync("sb1", new ContainerConfig { Id = "c1" }, Ct));
        Assert.Equal([(iface.Name, iface.HwAddr)], (await second.ListInterfacesAsync("sb1", Ct)).Select(i => (i.Name, i.HwAddr)));
        Assert.Equal(routes, await second.ListRoutesAsync("sb1", Ct));
        Assert.Empty(second.ContainersOf("sb2"));
    }

    [Fact]
    public async Task Without_a_state_directory_the_drivers_keep_everything_in_memory_as_before()
    {
        using var services = TestServices.Create(root: _directory);
        await services.Hypervisor.StartVmAsync("sb1", TestSandboxes.Config("sb1"), null, Ct);
        await services.Agent.CreateSandboxAsync("sb1", TestSandboxes.Config("sb1"), Ct);

        Assert.Equal(["sb1"], services.Hypervisor.RunningVms);
        Assert.False(Directory.Exists(_directory));
        Assert.Empty(new MockHypervisor(Options()).RunningVms);
    }

    [Fact]
    public async Task The_state_directory_is_bound_through_dependency_injection_and_a_relative_one_fails_at_start_naming_the_key()
    {
        using (var services = TestServices.Create(root: Path.Combine(_directory, "run"), configure: s => s.Configure<MockDriverOptions>(o => o.StateDirectory = _directory)))
        {
            await services.Hypervisor.StartVmAsync("sb1", TestSandboxes.Config("sb1"), null, Ct);
            await services.Agent.CreateSandboxAsync("sb1", TestSandboxes.Config("sb1"), Ct);
        }

        Assert.True(File.Exists(Path.Combine(_directory, MockHypervisor.StateSubdirectory, "sb1.json")));
        Assert.True(File.Exists(Path.Combine(_directory, NoopAgent.StateSubdirectory, "sb1.json")));

        using var bad = TestServices.Create(configure: s => s.Configure<MockDriverOptions>(o => o.StateDirectory = "relative/mock"));
        var ex = Assert.Throws<OptionsValidationException>(() => bad.Provider.GetRequiredService<IOptions<MockDriverOptions>>().Value);
        Assert.Contains("MockDrivers:StateDirectory must be an absolute path, got 'relative/mock'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_temporary_file_left_by_a_killed_writer_is_ignored_and_a_corrupt_state_file_is_named()
    {
        var first = new MockHypervisor(Options());
        await first.StartVmAsync("sb1", TestSandboxes.Config("sb1"), null, Ct);
        var vms = Path.Combine(_directory, MockHypervisor.StateSubdirectory);
        await File.WriteAllTextAsync(Path.Combine(vms, "sb2.json.0123456789abcdef.tmp"), "{\"hyperv", Ct);

        Assert.Equal(["sb1"], new MockHypervisor(Options()).RunningVms);

        await File.WriteAllTextAsync(Path.Combine(vms, "sb3.json"), "{\"hyperv", Ct);
        var ex = Assert.Throws<InvalidDataException>(() => new MockHypervisor(Options()));
        Assert.Contains("sb3.json", ex.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private IOptions<MockDriverOptions> Options() => Microsoft.Extensions.Options.Options.Create(new MockDriverOptions { StateDirectory = _directory });
}
