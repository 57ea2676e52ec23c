using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Storage.Tests;

public abstract partial class OrchestrationStoreConformance
{
    /// <summary>Four instances: q-a1 Alpha Pending (t+1s), q-a2 Alpha Running (t+2s), q-b1 Beta Completed (t+3s), r-b2 Beta Pending (t+4s).</summary>
    private async Task<IOrchestrationStore> CreateQueryFixtureAsync()
    {
        var (store, _) = await NewStoreAsync();
        await CreateRunningAsync(store, "q-a2", "Alpha", Epoch.AddSeconds(2));
        await CreateCompletedAsync(store, "q-b1", "Beta", Epoch.AddSeconds(3));
        await store.CreateInstanceAsync(Instance("q-a1", "Alpha", "1", Epoch.AddSeconds(1)), Ct);
        await store.CreateInstanceAsync(Instance("r-b2", "Beta", null, Epoch.AddSeconds(4)), Ct);
        return store;
    }

    private static async Task<string[]> QueryIdsAsync(IOrchestrationStore store, OrchestrationQuery query)
    {
        var page = await store.QueryInstancesAsync(query, Ct);
        Assert.Null(page.ContinuationToken);
        return [.. page.Instances.Select(i => i.InstanceId)];
    }

    [Fact]
    public async Task Query_filters_by_status_name_prefix_and_creation_range_in_creation_order()
    {
        var store = await CreateQueryFixtureAsync();

        Assert.Equal(["q-a1", "q-a2", "q-b1", "r-b2"], await QueryIdsAsync(store, new OrchestrationQuery()));
        Assert.Equal(
            ["q-a2", "q-b1"],
            await QueryIdsAsync(store, new OrchestrationQuery { Statuses = [OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Completed] }));
        Assert.Equal(["q-a1", "r-b2"], await QueryIdsAsync(store, new OrchestrationQuery { Statuses = [OrchestrationRuntimeStatus.Pending] }));
        Assert.Equal(["q-a1", "q-a2"], await QueryIdsAsync(store, new OrchestrationQuery { Name = "Alpha" }));
        Assert.Equal(["q-a1", "q-a2", "q-b1"], await QueryIdsAsync(store, new OrchestrationQuery { InstanceIdPrefix = "q-" }));
        Assert.Equal(
            ["q-a2", "q-b1"],
            await QueryIdsAsync(store, new OrchestrationQuery { CreatedFrom = Epoch.AddSeconds(2), CreatedTo = Epoch.AddSeconds(4) }));
        Assert.Equal(["r-b2"], await QueryIdsAsync(store, new OrchestrationQuery { CreatedFrom = Epoch.AddSeconds(4) }));
        Assert.Equal(["q-a1"], await QueryIdsAsync(store, new OrchestrationQuery { CreatedTo = Epoch.AddSeconds(2) }));
        Assert.Equal(
            ["q-b1"],
            await QueryIdsAsync(store, new OrchestrationQuery { Name = "Beta", InstanceIdPrefix = "q-", Statuses = [OrchestrationRuntimeStatus.Completed] }));
        Assert.Empty(await QueryIdsAsync(store, new OrchestrationQuery { Name = "Gamma" }));
    }

    [Fact]
    public async Task Query_returns_payloads_only_when_asked_for()
    {
        var store = await CreateQueryFixtureAsync();

        var bare = await store.QueryInstancesAsync(new OrchestrationQuery { InstanceIdPrefix = "q-" }, Ct);
        var full = await store.QueryInstancesAsync(new OrchestrationQuery { InstanceIdPrefix = "q-", IncludePayloads = true }, Ct);

        Assert.All(bare.Instances, i => Assert.Null(i.SerializedInput));
        Assert.All(bare.Instances, i => Assert.Null(i.SerializedOutput));
        Assert.Equal("1", full.Instances.Single(i => i.InstanceId == "q-a1").SerializedInput);
        Assert.Equal("\"done\"", full.Instances.Single(i => i.InstanceId == "q-b1").SerializedOutput);
        var running = full.Instances.Single(i => i.InstanceId == "q-a2");
        Assert.Equal(OrchestrationRuntimeStatus.Running, running.Status);
        Assert.Equal("Alpha", running.Name);
        Assert.Equal(Epoch.AddSeconds(2), running.CreatedAt);
    }

    [Fact]
    public async Task Query_pages_through_a_thousand_instances_without_duplicates_or_gaps()
    {
        var (store, _) = await NewStoreAsync();
        // Ten instances share each creation time, and ids do not follow creation order, so pages split ties.
        var requests = Enumerable.Range(0, 1000)
            .Select(i => Instance($"page-{i * 7919 % 1000:D4}", createdAt: Epoch.AddSeconds(i / 10)))
            .ToArray();
        await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = Ct }, async (r, ct) => await store.CreateInstanceAsync(r, ct));
        var expected = requests.OrderBy(r => r.Metadata.CreatedAt).ThenBy(r => r.Metadata.InstanceId, StringComparer.Ordinal).Select(r => r.Metadata.InstanceId);

        var seen = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await store.QueryInstancesAsync(new OrchestrationQuery { PageSize = 37, ContinuationToken = token, InstanceIdPrefix = "page-" }, Ct);
            Assert.True(page.Instances.Count == 37 || page.ContinuationToken is null, $"Page {pages} has {page.Instances.Count} instances and a continuation token.");
            seen.AddRange(page.Instances.Select(i => i.InstanceId));
            token = page.ContinuationToken;
            pages++;
            Assert.True(pages <= 28, "More pages than 1000 / 37 rounded up.");
        }
        while (token is not null);

        Assert.Equal(28, pages);
        Assert.Equal(expected, seen);
    }

    [Fact]
    public async Task Paging_with_a_filter_keeps_the_filter_on_every_page()
    {
        var (store, _) = await NewStoreAsync();
        for (var i = 0; i < 20; i++)
        {
            await store.CreateInstanceAsync(Instance($"f-{i:D2}", i % 2 == 0 ? "Even" : "Odd", createdAt: Epoch.AddSeconds(i % 3)), Ct);
        }

        var seen = new List<string>();
        string? token = null;
        do
        {
            var page = await store.QueryInstancesAsync(new OrchestrationQuery { Name = "Even", PageSize = 3, ContinuationToken = token }, Ct);
            Assert.All(page.Instances, i => Assert.Equal("Even", i.Name));
            seen.AddRange(page.Instances.Select(i => i.InstanceId));
            token = page.ContinuationToken;
        }
        while (token is not null);

        Assert.Equal(10, seen.Count);
        Assert.Equal(seen.Distinct(), seen);
    }

    [Fact]
    public async Task Newest_first_pages_through_instances_in_reverse_creation_order_without_duplicates_or_gaps()
    {
        var (store, _) = await NewStoreAsync();
        // Several instances share each creation time, so pages split ties.
        var requests = Enumerable.Range(0, 100)
            .Select(i => Instance($"desc-{i * 37 % 100:D3}", i % 2 == 0 ? "Even" : "Odd", createdAt: Epoch.AddSeconds(i / 4)))
            .ToArray();
        foreach (var r in requests)
        {
            await store.CreateInstanceAsync(r, Ct);
        }

        var expected = requests.OrderByDescending(r => r.Metadata.CreatedAt).ThenByDescending(r => r.Metadata.InstanceId, StringComparer.Ordinal)
            .Where(r => r.Metadata.Name == "Even").Select(r => r.Metadata.InstanceId).ToList();
        var seen = new List<string>();
        string? token = null;
        do
        {
            var page = await store.QueryInstancesAsync(new OrchestrationQuery { NewestFirst = true, Name = "Even", PageSize = 7, ContinuationToken = token }, Ct);
            seen.AddRange(page.Instances.Select(i => i.InstanceId));
            token = page.ContinuationToken;
        }
        while (token is not null);

        Assert.Equal(expected, seen);
        Assert.Equal(["r-b2", "q-b1"], await QueryIdsAsync(await CreateQueryFixtureAsync(), new OrchestrationQuery { NewestFirst = true, Name = "Beta" }));
    }

    [Fact]
    public async Task Query_filters_by_tags_all_of_which_must_match()
    {
        var (store, _) = await NewStoreAsync();
        await store.CreateInstanceAsync(Tagged("t-1", ("sandbox", "sb1"), ("operation", "Create")), Ct);
        await store.CreateInstanceAsync(Tagged("t-2", ("sandbox", "sb1"), ("operation", "Delete")), Ct);
        await store.CreateInstanceAsync(Tagged("t-3", ("sandbox", "sb10")), Ct);
        await store.CreateInstanceAsync(Instance("t-4", createdAt: Epoch.AddSeconds(4)), Ct);

        Assert.Equal(["t-1", "t-2"], await QueryIdsAsync(store, new OrchestrationQuery { Tags = new Dictionary<string, string> { ["sandbox"] = "sb1" } }));
        Assert.Equal(
            ["t-2"],
            await QueryIdsAsync(store, new OrchestrationQuery { Tags = new Dictionary<string, string> { ["sandbox"] = "sb1", ["operation"] = "Delete" } }));
        Assert.Empty(await QueryIdsAsync(store, new OrchestrationQuery { Tags = new Dictionary<string, string> { ["sandbox"] = "sb" } }));
        Assert.Empty(await QueryIdsAsync(store, new OrchestrationQuery { Tags = new Dictionary<string, string> { ["nobody"] = "sb1" } }));
        Assert.Equal(4, (await QueryIdsAsync(store, new OrchestrationQuery { Tags = new Dictionary<string, string>() })).Length);

        NewInstance Tagged(string id, params (string Key, string Value)[] tags)
        {
            var instance = Instance(id, createdAt: Epoch.AddSeconds(int.Parse(id[2..], System.Globalization.CultureInfo.InvariantCulture)));
            return instance with { Metadata = instance.Metadata with { Tags = tags.ToDictionary(t => t.Key, t => t.Value) } };
        }
    }

    [Theory]
    [InlineData("not a token")]
    [InlineData("bm8tY29sb24=")]
    [InlineData("YWJjOnh5eg==")]
    public async Task A_malformed_continuation_token_is_refused(string token)
    {
        var (store, _) = await NewStoreAsync();

        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.QueryInstancesAsync(new OrchestrationQuery { ContinuationToken = token }, Ct));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(OrchestrationQuery.MaxPageSize + 1)]
    public async Task A_page_size_out_of_range_is_refused(int pageSize)
    {
        var (store, _) = await NewStoreAsync();

        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.QueryInstancesAsync(new OrchestrationQuery { PageSize = pageSize }, Ct));
    }

    [Fact]
    public async Task Purging_an_instance_removes_a_terminal_one_refuses_a_running_one_and_ignores_a_missing_one()
    {
        var (store, location) = await NewStoreAsync();
        await CreateCompletedAsync(store, "old");
        await CreateRunningAsync(store, "live");
        await CreateAsync(store, "waiting");

        Assert.Equal(0, await store.PurgeInstanceAsync("nobody", Ct));
        var running = await Assert.ThrowsAsync<InstanceStateException>(() => store.PurgeInstanceAsync("live", Ct));
        Assert.Equal(OrchestrationRuntimeStatus.Running, running.Status);
        await Assert.ThrowsAsync<InstanceStateException>(() => store.PurgeInstanceAsync("waiting", Ct));
        Assert.Equal(1, await store.PurgeInstanceAsync("old", Ct));

        Assert.Null(await store.GetInstanceAsync("old", includePayloads: false, Ct));
        Assert.Empty(await store.GetHistoryAsync("old", null, Ct));
        Assert.Equal(0, await store.PurgeInstanceAsync("old", Ct));
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await GetAsync(store, "live")).Status);
        store = await RestartAsync(store, location);
        Assert.Null(await store.GetInstanceAsync("old", includePayloads: false, Ct));
        Assert.NotNull(await store.GetInstanceAsync("live", includePayloads: false, Ct));
        await CreateAsync(store, "old");
        Assert.Equal(OrchestrationRuntimeStatus.Pending, (await GetAsync(store, "old")).Status);
    }

    [Fact]
    public async Task Purging_by_filter_removes_only_matching_terminal_instances()
    {
        var (store, _) = await NewStoreAsync();
        await CreateCompletedAsync(store, "c1", createdAt: Epoch.AddSeconds(1));
        await CreateCompletedAsync(store, "c2", createdAt: Epoch.AddSeconds(2));
        await CreateAsync(store, "x1", createdAt: Epoch.AddSeconds(2));
        await store.SendMessageAsync("x1", Messages.Terminate(), Ct);
        await RunNextEpisodeAsync(store, "x1");
        await CreateRunningAsync(store, "r1", createdAt: Epoch.AddSeconds(1));
        await CreateCompletedAsync(store, "c3", createdAt: Epoch.AddSeconds(5));

        var first = await store.PurgeInstancesAsync(
            new PurgeFilter { Statuses = [OrchestrationRuntimeStatus.Completed], CreatedFrom = Epoch.AddSeconds(1), CreatedTo = Epoch.AddSeconds(5) }, Ct);

        Assert.Equal(2, first);
        Assert.Equal(["r1", "x1", "c3"], await QueryIdsAsync(store, new OrchestrationQuery()));
        Assert.Equal(2, await store.PurgeInstancesAsync(new PurgeFilter(), Ct));
        Assert.Equal(["r1"], await QueryIdsAsync(store, new OrchestrationQuery()));
        Assert.Equal(0, await store.PurgeInstancesAsync(new PurgeFilter(), Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.PurgeInstancesAsync(new PurgeFilter { Statuses = [OrchestrationRuntimeStatus.Running] }, Ct));
    }

    [Fact]
    public async Task Waiting_for_a_change_completes_at_the_next_committed_change_only()
    {
        var (store, _) = await NewStoreAsync();
        using var timeout = Timeout();

        var created = store.WaitForInstanceChangeAsync("watched", timeout.Token);
        var other = store.WaitForInstanceChangeAsync("other", timeout.Token);
        Assert.False(created.IsCompleted);
        await CreateAsync(store, "watched");
        await created.WaitAsync(timeout.Token);

        var episode = store.WaitForInstanceChangeAsync("watched", timeout.Token);
        var workItem = await LockAsync(store, "watched");
        await store.SendMessageAsync("watched", Messages.Event("e"), Ct);
        Assert.False(episode.IsCompleted);
        await RunEpisodeAsync(store, workItem);
        await episode.WaitAsync(timeout.Token);

        var completion = store.WaitForInstanceChangeAsync("watched", timeout.Token);
        await WakeAsync(store, "watched", Actions.Complete(0, null));
        await completion.WaitAsync(timeout.Token);
        Assert.False(other.IsCompleted);
    }

    [Fact]
    public async Task Waiting_for_a_status_change_skips_checkpoints_that_keep_the_status_and_hands_over_the_row()
    {
        var (store, _) = await NewStoreAsync();
        using var timeout = Timeout();

        var created = store.WaitForStatusChangeAsync("watched", timeout.Token);
        var other = store.WaitForStatusChangeAsync("other", timeout.Token);
        await CreateAsync(store, "watched", input: "\"in\"");
        Assert.Equal(OrchestrationRuntimeStatus.Pending, (await created.WaitAsync(timeout.Token)).Status);

        var started = store.WaitForStatusChangeAsync("watched", timeout.Token);
        await RunNextEpisodeAsync(store, "watched");
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await started.WaitAsync(timeout.Token)).Status);

        // An episode that leaves the instance running wakes change waiters, not status waiters.
        var change = store.WaitForInstanceChangeAsync("watched", timeout.Token);
        var finished = store.WaitForStatusChangeAsync("watched", timeout.Token);
        await WakeAsync(store, "watched");
        await change.WaitAsync(timeout.Token);
        Assert.False(finished.IsCompleted);

        await WakeAsync(store, "watched", Actions.Complete(0, "\"out\""));
        var row = await finished.WaitAsync(timeout.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, row.Status);
        Assert.Equal("\"out\"", row.SerializedOutput);
        Assert.Equal("\"in\"", row.SerializedInput);
        Assert.False(other.IsCompleted);
    }

    [Fact]
    public async Task Waiting_for_a_change_can_be_cancelled()
    {
        var (store, _) = await NewStoreAsync();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var wait = store.WaitForInstanceChangeAsync("quiet", cts.Token);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        var statusWait = store.WaitForStatusChangeAsync("quiet", cts.Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => statusWait);
    }
}
