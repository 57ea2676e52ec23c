using System.Diagnostics;
using KataWorkflows.Activities.Faults;
using KataWorkflows.Activities.Store;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Tests.Faults;

public sealed class FaultInjectorTests
{
    private const string KillChildRootVariable = "KWF_ACTIVITIES_TEST_KILL_ROOT";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_fail_rule_fails_the_activity_N_times_then_lets_it_succeed()
    {
        using var services = TestServices.Create("sandbox.startVM:fail:2");
        var request = TestSandboxes.Vm("sb1");

        var first = await Assert.ThrowsAsync<InjectedFaultException>(() => services.RunAsync<VmState>(SandboxActivities.StartVm, request, Ct));
        var second = await Assert.ThrowsAsync<InjectedFaultException>(() => services.RunAsync<VmState>(SandboxActivities.StartVm, request, Ct));
        Assert.Empty(services.Hypervisor.RunningVms);
        var vm = await services.RunAsync<VmState>(SandboxActivities.StartVm, request, Ct);

        Assert.Equal("injected fault at sandbox.startVM (1 of 2)", first.Message);
        Assert.Equal("injected fault at sandbox.startVM (2 of 2)", second.Message);
        Assert.Equal("mock", vm.HypervisorType);
        Assert.Equal(["sb1"], services.Hypervisor.RunningVms);
    }

    [Fact]
    public async Task A_fail_rule_after_the_step_leaves_its_side_effect_in_place()
    {
        using var services = TestServices.Create("sandbox.startVM:fail:1:after");

        var ex = await Assert.ThrowsAsync<InjectedFaultException>(() => services.RunAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm("sb1"), Ct));

        Assert.Equal(SandboxActivities.StartVm, ex.Step);
        Assert.Equal(["sb1"], services.Hypervisor.RunningVms);
    }

    [Fact]
    public async Task A_rule_for_one_sandbox_leaves_the_others_alone_and_counts_only_its_own_calls()
    {
        using var services = TestServices.Create("sandbox.startVM:fail:1:sandbox=sb2");

        await services.RunAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm("sb1"), Ct);
        await Assert.ThrowsAsync<InjectedFaultException>(() => services.RunAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm("sb2"), Ct));
        await services.RunAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm("sb2"), Ct);

        Assert.Equal(["sb1", "sb2"], services.Hypervisor.RunningVms.Order());
    }

    [Fact]
    public async Task A_rule_with_skip_lets_that_many_runs_pass_then_strikes()
    {
        using var services = TestServices.Create("sandbox.storeSandbox:fail:1:skip=2");
        var record = new SandboxRecord { Id = "sb1", Config = TestSandboxes.Config("sb1") };

        await services.RunAsync<bool>(SandboxActivities.StoreSandbox, record, Ct);
        await services.RunAsync<bool>(SandboxActivities.StoreSandbox, record, Ct);
        var ex = await Assert.ThrowsAsync<InjectedFaultException>(() => services.RunAsync<bool>(SandboxActivities.StoreSandbox, record, Ct));
        await services.RunAsync<bool>(SandboxActivities.StoreSandbox, record, Ct);

        Assert.Equal("injected fault at sandbox.storeSandbox (1 of 1)", ex.Message);
    }

    [Fact]
    public async Task A_rule_with_no_count_strikes_every_time()
    {
        using var services = TestServices.Create("sandbox.storeSandbox:fail");
        var record = new SandboxRecord { Id = "sb1", Config = TestSandboxes.Config("sb1") };

        for (var i = 1; i <= 3; i++)
        {
            var ex = await Assert.ThrowsAsync<InjectedFaultException>(() => services.RunAsync<bool>(SandboxActivities.StoreSandbox, record, Ct));
            Assert.Equal($"injected fault at sandbox.storeSandbox ({i}, every time)", ex.Message);
        }

        Assert.False(services.Store.Exists("sb1"));
    }

    [Fact]
    public async Task Counting_is_exact_under_concurrent_calls()
    {
        using var services = TestServices.Create("sandbox.getGuestDetails:fail:5");

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(async () =>
        {
            try
            {
                await services.Faults.InjectAsync(SandboxActivities.GetGuestDetails, $"sb{i}", FaultPoint.Before, Ct);
                return true;
            }
            catch (InjectedFaultException)
            {
                return false;
            }
        }, Ct)));

        Assert.Equal(5, outcomes.Count(ok => !ok));
        Assert.Equal(64, services.Faults.Matches(services.Faults.Rules[0]));
    }

    [Fact]
    public async Task A_hang_rule_waits_until_the_activity_token_is_cancelled()
    {
        using var services = TestServices.Create("sandbox.startVM:hang");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var run = services.RunAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm("sb1"), cts.Token);
        Assert.False(run.IsCompleted);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Empty(services.Hypervisor.RunningVms);
    }

    [Fact]
    public async Task Struck_is_raised_for_each_strike_before_its_fault_takes_effect_and_not_for_a_spent_rule()
    {
        using var services = TestServices.Create("sandbox.startVM:hang:1:after,sandbox.stopVM:fail:1");
        var strikes = new List<(FaultStrike Strike, bool VmRunning)>();
        services.Faults.Struck += (_, s) => strikes.Add((s, services.Hypervisor.RunningVms.Count > 0));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var hung = services.RunAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm("sb1"), cts.Token);
        Assert.False(hung.IsCompleted);
        var (hang, vmRunning) = Assert.Single(strikes);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hung);
        await services.RunAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm("sb1"), Ct);
        await Assert.ThrowsAsync<InjectedFaultException>(() => services.RunAsync<bool>(SandboxActivities.StopVm, TestSandboxes.Vm("sb1"), Ct));

        Assert.Equal((SandboxActivities.StartVm, "sb1", FaultPoint.After, 1), (hang.Step, hang.SandboxId, hang.Point, hang.Occurrence));
        Assert.True(vmRunning, "the hang after startVM's work struck before the VM was started");
        Assert.Equal(2, strikes.Count);
        Assert.Equal((SandboxActivities.StopVm, FaultMode.Fail), (strikes[1].Strike.Step, strikes[1].Strike.Rule.Mode));
    }

    [Theory]
    [InlineData("before", false)]
    [InlineData("after", true)]
    public async Task A_kill_rule_kills_at_the_configured_point(string point, bool stored)
    {
        using var services = TestServices.Create($"sandbox.storeSandbox:kill:{point}");
        bool? storedAtKill = null;
        services.Faults.KillProcess = () => storedAtKill = services.Store.Exists("sb1");

        await Assert.ThrowsAsync<InjectedFaultException>(() =>
            services.RunAsync<bool>(SandboxActivities.StoreSandbox, new SandboxRecord { Id = "sb1", Config = TestSandboxes.Config("sb1") }, Ct));

        Assert.Equal(stored, storedAtKill);
    }

    [Fact]
    public async Task Child_store_then_kill()
    {
        // Run by Kill_rule_kills_the_process_with_SIGKILL in a child process (real kill), and here with the kill intercepted.
        var childRoot = Environment.GetEnvironmentVariable(KillChildRootVariable);
        using var services = TestServices.Create("sandbox.storeSandbox:kill:1:after", root: childRoot);
        var intercepted = false;
        if (childRoot is null)
        {
            services.Faults.KillProcess = () => intercepted = true;
        }

        await Assert.ThrowsAsync<InjectedFaultException>(() =>
            services.RunAsync<bool>(SandboxActivities.StoreSandbox, new SandboxRecord { Id = "sb1", Config = TestSandboxes.Config("sb1") }, Ct));
        Assert.True(intercepted);
    }

    [Fact]
    public async Task Kill_rule_kills_the_process_with_SIGKILL()
    {
        Assert.SkipWhen(Environment.GetEnvironmentVariable(KillChildRootVariable) is not null, "this is the child process");
        var root = TestServices.TempRoot();
        try
        {
            var assembly = typeof(FaultInjectorTests).Assembly.Location;
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "exec", assembly, "-method", $"{typeof(FaultInjectorTests).FullName}.{nameof(Child_store_then_kill)}" })
            {
                start.ArgumentList.Add(arg);
            }

            start.Environment[KillChildRootVariable] = root;
            using var child = Process.Start(start)!;
            var output = child.StandardOutput.ReadToEndAsync(Ct);
            var error = child.StandardError.ReadToEndAsync(Ct);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            try
            {
                await child.WaitForExitAsync(timeout.Token);
            }
            finally
            {
                if (!child.HasExited)
                {
                    child.Kill(entireProcessTree: true);
                }
            }

            Assert.True(child.ExitCode == 128 + 9, $"exit code {child.ExitCode}\n{await output}\n{await error}");
            var store = new SandboxFileStore(Options.Create(new HostStoreOptions { RunRoot = root }), TimeProvider.System);
            Assert.NotNull(await store.ReadAsync("sb1", Ct));
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    [Fact]
    public void Without_rules_activities_are_not_wrapped()
    {
        using var services = TestServices.Create();

        Assert.False(services.Faults.Enabled);
        Assert.IsNotType<FaultInjectingActivity>(SandboxActivitiesRegistryExtensions.CreateActivity(services.Provider, SandboxActivities.StartVm));
    }

    [Fact]
    public async Task Invalid_fault_options_fail_validation_at_start()
    {
        var services = new ServiceCollection().AddLogging().AddSandboxDrivers(faults: f => f.Spec = "sandbox.startVM:explode");
        await using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<FaultInjectionOptions>>().Value);

        Assert.Contains("Fault rule #1 'sandbox.startVM:explode' is invalid", ex.Message, StringComparison.Ordinal);
    }
}
