using KataWorkflows.Engine;
using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using DurableTaskRegistry = Microsoft.DurableTask.DurableTaskRegistry;

namespace KataWorkflows.Storage.Sqlite.Tests;

public sealed class SqliteEndToEndTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_orchestration_runs_to_completion_and_a_new_store_reads_its_history_back()
    {
        using var db = new TempDatabase();
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

        string id;
        IReadOnlyList<Microsoft.DurableTask.Protobuf.HistoryEvent> history;
        await using (var store = SqliteOrchestrationStore.Create(db.Options()))
        {
            using var services = new ServiceCollection().BuildServiceProvider();
            using var worker = StoreDurableTaskWorker.Create(registry, new StoreWorkerOptions(), store, services, NullLoggerFactory.Instance);
            await store.StartAsync(Ct);
            await worker.StartAsync(Ct);
            var client = new StoreDurableTaskClient(store);
            id = await client.ScheduleNewOrchestrationInstanceAsync("wf", 10, cancellation: Ct);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            var done = await client.WaitForInstanceCompletionRecordAsync(id, true, timeout.Token);
            Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
            Assert.Equal("14", done.SerializedOutput);
            history = await client.GetHistoryAsync(id, cancellation: Ct);
            await worker.StopAsync(CancellationToken.None);
        }

        await using var reopened = SqliteOrchestrationStore.Create(db.Options());
        await reopened.StartAsync(Ct);
        var readClient = new StoreDurableTaskClient(reopened);
        var instance = await readClient.GetInstanceRecordAsync(id, true, Ct);
        Assert.NotNull(instance);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, instance.Status);
        Assert.Equal("14", instance.SerializedOutput);
        var reread = await readClient.GetHistoryAsync(id, cancellation: Ct);
        Assert.Equal(history, reread);
        Assert.Equal(4, reread.Count(e => e.TaskScheduled is not null));
        Assert.Equal(4, reread.Count(e => e.TaskCompleted is not null));
        Assert.Contains(reread, e => e.ExecutionCompleted is not null);
        var backend = Assert.IsType<SqliteStoreBackend>(reopened.Backend);
        var state = await backend.OpenAsync(Ct);
        Assert.Empty(state.ActiveInstances);
        Assert.Empty(state.Activities);
    }

    [Fact]
    public async Task The_SDK_worker_built_by_AddDurableTaskEngine_runs_an_orchestration_on_SQLite()
    {
        using var db = new TempDatabase();
        var services = new ServiceCollection();
        services.AddDurableTaskEngine(b => b
            .UseSqlite(o => o.Path = db.Path)
            .AddTasks(r => r
                .AddActivityFunc<int, int>("inc", (ctx, x) => Task.FromResult(x + 1))
                .AddOrchestratorFunc<int, int>("wf", async (ctx, x) => await ctx.CallActivityAsync<int>("inc", await ctx.CallActivityAsync<int>("inc", x)))));
        await using var provider = services.BuildServiceProvider();
        var worker = Assert.IsType<StoreDurableTaskWorker>(Assert.Single(provider.GetServices<Microsoft.Extensions.Hosting.IHostedService>()));
        await worker.StartAsync(Ct);
        var client = Assert.IsType<StoreDurableTaskClient>(provider.GetRequiredService<Microsoft.DurableTask.Client.DurableTaskClient>());
        var id = await client.ScheduleNewOrchestrationInstanceAsync("wf", 1, cancellation: Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        var done = await client.WaitForInstanceCompletionRecordAsync(id, true, timeout.Token);
        await worker.StopAsync(CancellationToken.None);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
        Assert.Equal("3", done.SerializedOutput);
    }

    [Fact]
    public async Task UseSqlite_registers_the_backend_with_the_configured_path()
    {
        using var db = new TempDatabase();
        var services = new ServiceCollection();
        services.AddDurableTaskEngine(b => b.UseSqlite(o =>
        {
            o.Path = db.Path;
            o.Synchronous = SqliteSynchronousMode.Normal;
        }));
        await using var provider = services.BuildServiceProvider();
        var backend = Assert.IsType<SqliteStoreBackend>(provider.GetRequiredService<IStoreBackend>());
        Assert.Equal(db.Path, backend.DatabasePath);
        Assert.Equal($"sqlite:{db.Path}", backend.Description);
    }

    [Fact]
    public void UseSqlite_without_a_path_fails_naming_Path()
    {
        var services = new ServiceCollection();
        var ex = Assert.Throws<ArgumentException>(() => services.AddDurableTaskEngine(b => b.UseSqlite(_ => { })));
        Assert.Equal("Path", ex.ParamName);
    }
}
