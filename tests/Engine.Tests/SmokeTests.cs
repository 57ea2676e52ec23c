using KataWorkflows.Engine;
using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Engine.Tests;

public sealed class SmokeTests
{
    [Fact]
    public async Task Four_activities_complete()
    {
        var registry = new DurableTaskRegistry();
        registry.AddActivityFunc<int, int>("inc", (ctx, x) => Task.FromResult(x + 1));
        registry.AddOrchestratorFunc<int, int>("wf", async (ctx, x) =>
        {
            for (var i = 0; i < 4; i++)
            {
                x = await ctx.CallActivityAsync<int>("inc", x);
            }

            return x;
        });
        await using var store = OrchestrationStore.CreateInMemory();
        var services = new ServiceCollection().BuildServiceProvider();
        using var worker = new DurableTaskWorker(store, registry, services, Options.Create(new DurableTaskWorkerOptions()), NullLoggerFactory.Instance);
        await store.StartAsync(TestContext.Current.CancellationToken);
        await worker.StartAsync(TestContext.Current.CancellationToken);
        var client = new StoreDurableTaskClient(store);
        var id = await client.ScheduleNewOrchestrationInstanceAsync("wf", 10, cancellationToken: TestContext.Current.CancellationToken);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var done = await client.WaitForInstanceCompletionAsync(id, true, cts.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal("14", done.SerializedOutput);
        var history = await client.GetHistoryAsync(id, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(4, history.Count(e => e.TaskScheduled is not null));
        await worker.StopAsync(CancellationToken.None);
    }
}
