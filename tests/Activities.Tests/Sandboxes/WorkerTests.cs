using KataWorkflows.Activities.Drivers;
using KataWorkflows.Activities.Faults;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Worker;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataWorkflows.Activities.Tests.Sandboxes;

/// <summary>The activities as the engine runs them: registered by name, inputs and outputs through JSON, failures as data.</summary>
public sealed class WorkerTests
{
    private static readonly RetryPolicy Retry = new(3, TimeSpan.FromMilliseconds(10));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Registered_activities_run_in_an_orchestration_and_their_outputs_round_trip()
    {
        using var services = TestServices.Create();
        var result = await RunAsync(services, async (ctx, id) =>
        {
            var target = TestSandboxes.Target(id);
            var config = TestSandboxes.Config(id, "c1", "c2");
            var network = await ctx.CallActivityAsync<NetworkState>(SandboxActivities.CreateNetwork, new NetworkRequest(target, config.NetworkConfig));
            var vm = await ctx.CallActivityAsync<VmState>(SandboxActivities.StartVm, new VmRequest(target, config, network));
            var containers = await ctx.CallActivityAsync<List<ContainerRecord>>(SandboxActivities.CreateContainers, new ContainersRequest(target, config.Containers));
            await ctx.CallActivityAsync<bool>(SandboxActivities.StoreSandbox, new SandboxRecord { Id = id, Config = config, Network = network, Vm = vm, Containers = containers });
            return $"{vm.HypervisorType}:{string.Join(',', containers.Select(c => c.Id))}";
        });

        Assert.Equal(OrchestrationRuntimeStatus.Completed, result.Status);
        Assert.Equal("\"mock:c1,c2\"", result.SerializedOutput);
        Assert.Equal(["sb1"], services.Hypervisor.RunningVms);
        Assert.True(services.Store.Exists("sb1"));
    }

    [Fact]
    public async Task An_injected_failure_is_retried_by_the_retry_policy_until_it_stops()
    {
        using var services = TestServices.Create("sandbox.startVM:fail:2");
        var result = await RunAsync(services, async (ctx, id) =>
        {
            var vm = await ctx.CallActivityAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm(id), new TaskOptions(Retry));
            return vm.HypervisorType;
        });

        Assert.Equal(OrchestrationRuntimeStatus.Completed, result.Status);
        Assert.Equal(3, result.ActivitiesScheduled);
        Assert.Equal(3, services.Faults.Matches(services.Faults.Rules[0]));
    }

    [Fact]
    public async Task A_missing_driver_fails_once_without_retries()
    {
        using var services = TestServices.Create();
        var result = await RunAsync(services, async (ctx, id) =>
        {
            try
            {
                await ctx.CallActivityAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm(id) with { Target = new SandboxTarget(id, "qemu", "noop", "none") }, new TaskOptions(Retry));
                return "started";
            }
            catch (TaskFailedException ex)
            {
                return $"{ex.FailureDetails.ErrorType}: {ex.FailureDetails.ErrorMessage}";
            }
        });

        Assert.Equal(OrchestrationRuntimeStatus.Completed, result.Status);
        Assert.Contains(typeof(DriverUnavailableException).FullName!, result.SerializedOutput, StringComparison.Ordinal);
        Assert.Contains("no QEMU driver is configured", result.SerializedOutput, StringComparison.Ordinal);
        Assert.Equal(1, result.ActivitiesScheduled);
    }

    [Fact]
    public async Task An_injected_failure_crosses_the_history_boundary_as_data()
    {
        using var services = TestServices.Create("sandbox.startVM:fail:1");
        var result = await RunAsync(services, async (ctx, id) =>
        {
            try
            {
                await ctx.CallActivityAsync<VmState>(SandboxActivities.StartVm, TestSandboxes.Vm(id));
                return "started";
            }
            catch (TaskFailedException ex)
            {
                return $"{ex.FailureDetails.ErrorType}|{ex.FailureDetails.ErrorMessage}";
            }
        });

        Assert.Equal($"\"{typeof(InjectedFaultException).FullName}|injected fault at sandbox.startVM (1 of 1)\"", result.SerializedOutput);
        Assert.Equal(0, result.NonRetriableFailures);
    }

    private static async Task<Outcome> RunAsync(TestServices services, Func<TaskOrchestrationContext, string, Task<string>> body)
    {
        var registry = new DurableTaskRegistry().AddSandboxActivities();
        registry.AddOrchestratorFunc<string, string>("test", body);
        await using var store = OrchestrationStore.CreateInMemory();
        using var worker = StoreDurableTaskWorker.Create(registry, new StoreWorkerOptions(), store, services.Provider, NullLoggerFactory.Instance);
        await store.StartAsync(Ct);
        await worker.StartAsync(Ct);
        try
        {
            var client = new StoreDurableTaskClient(store);
            var id = await client.ScheduleNewOrchestrationInstanceAsync("test", "sb1", cancellation: Ct);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            var done = await client.WaitForInstanceCompletionRecordAsync(id, true, timeout.Token);
            var history = await client.GetHistoryAsync(id, cancellation: Ct);
            return new Outcome(
                done.Status,
                done.SerializedOutput,
                history.Count(e => e.TaskScheduled is not null),
                history.Count(e => e.TaskFailed?.FailureDetails.IsNonRetriable == true));
        }
        finally
        {
            await worker.StopAsync(CancellationToken.None);
        }
    }

    private sealed record Outcome(OrchestrationRuntimeStatus Status, string? SerializedOutput, int ActivitiesScheduled, int NonRetriableFailures);
}
