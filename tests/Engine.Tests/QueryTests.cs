using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Tests.Harness;
using Microsoft.Extensions.Time.Testing;

namespace KataWorkflows.Engine.Tests;

public sealed class QueryTests
{
    private static readonly DateTimeOffset Start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Paging_through_1000_instances_returns_every_id_exactly_once()
    {
        // No worker: every instance stays Pending, so the set does not move while it is paged.
        var clock = new FakeTimeProvider(Start);
        await using var harness = await EngineHarness.StartAsync(_ => { }, o =>
        {
            o.StartWorker = false;
            o.ClientTime = clock;
        });
        var created = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 1000; i++)
        {
            // Ten instances share each creation time, so page boundaries fall inside runs of equal times.
            clock.SetUtcNow(Start.AddSeconds(i / 10));
            created.Add(await harness.ScheduleAsync("anything", i, i % 2 == 0 ? null : $"odd-{i:D4}"));
        }

        var seen = new List<string>();
        var pages = 0;
        string? token = null;
        do
        {
            var page = await harness.Client.QueryInstanceRecordsAsync(new OrchestrationQuery { PageSize = 37, ContinuationToken = token }, harness.Token);
            pages++;
            Assert.InRange(page.Instances.Count, 1, 37);
            if (page.ContinuationToken is not null)
            {
                Assert.Equal(37, page.Instances.Count);
            }

            seen.AddRange(page.Instances.Select(m => m.InstanceId));
            token = page.ContinuationToken;
        }
        while (token is not null);

        Assert.Equal(28, pages);
        Assert.Equal(1000, seen.Count);
        Assert.Equal(1000, seen.Distinct(StringComparer.Ordinal).Count());
        Assert.True(created.SetEquals(seen));
        var all = await harness.Client.GetAllInstancesAsync(new Microsoft.DurableTask.Client.OrchestrationQuery { PageSize = 37 }).ToListAsync(harness.Token);
        Assert.Equal(seen, all.Select(m => m.InstanceId));
        Assert.Equal(all.OrderBy(m => m.CreatedAt).ThenBy(m => m.InstanceId, StringComparer.Ordinal), all);
    }

    [Fact]
    public async Task Filters_by_status_name_id_prefix_and_creation_time_return_exactly_the_matching_instances()
    {
        var clock = new FakeTimeProvider(Start);
        await using var harness = await EngineHarness.StartAsync(r =>
        {
            r.AddOrchestratorFunc<int, int>("Alpha", (ctx, x) => Task.FromResult(x));
            r.AddOrchestratorFunc<int, int>("beta", (ctx, x) => ctx.WaitForExternalEvent<int>("never"));
        }, o => o.ClientTime = clock);
        var alphas = new List<string>();
        var betas = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            clock.SetUtcNow(Start.AddMinutes(i));
            if (i % 3 == 0)
            {
                betas.Add(await harness.ScheduleAsync("beta", i, $"b-{i:D2}"));
            }
            else
            {
                alphas.Add(await harness.ScheduleAsync("Alpha", i, $"a-{i:D2}"));
            }
        }

        foreach (var id in alphas)
        {
            await harness.WaitForCompletionAsync(id);
        }

        foreach (var id in betas)
        {
            await harness.Client.WaitForInstanceStartRecordAsync(id, cancellation: harness.Token);
        }

        Assert.Equal(alphas, await Ids(new OrchestrationQuery { Statuses = [OrchestrationRuntimeStatus.Completed] }));
        Assert.Equal(betas, await Ids(new OrchestrationQuery { Statuses = [OrchestrationRuntimeStatus.Running] }));
        Assert.Equal(
            [.. alphas.Concat(betas).Order(StringComparer.Ordinal)],
            (await Ids(new OrchestrationQuery { Statuses = [OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Completed] })).Order(StringComparer.Ordinal));
        Assert.Empty(await Ids(new OrchestrationQuery { Statuses = [OrchestrationRuntimeStatus.Failed] }));
        Assert.Equal(betas, await Ids(new OrchestrationQuery { Name = "BETA" }));
        Assert.Equal(alphas, await Ids(new OrchestrationQuery { Name = "alpha" }));
        Assert.Equal(["a-10", "a-11", "a-13", "a-14", "a-16", "a-17", "a-19"], await Ids(new OrchestrationQuery { InstanceIdPrefix = "a-1" }));
        Assert.Equal(
            ["a-10", "a-11", "b-12", "a-13", "a-14"],
            await Ids(new OrchestrationQuery { CreatedFrom = Start.AddMinutes(10).UtcDateTime, CreatedTo = Start.AddMinutes(15).UtcDateTime }));
        Assert.Equal(
            ["b-12"],
            await Ids(new OrchestrationQuery { CreatedFrom = Start.AddMinutes(10).UtcDateTime, CreatedTo = Start.AddMinutes(15).UtcDateTime, Name = "beta" }));

        var withPayloads = await harness.Client.QueryInstanceRecordsAsync(new OrchestrationQuery { InstanceIdPrefix = "a-01", IncludePayloads = true }, harness.Token);
        Assert.Equal("1", Assert.Single(withPayloads.Instances).SerializedOutput);
        var withoutPayloads = await harness.Client.QueryInstanceRecordsAsync(new OrchestrationQuery { InstanceIdPrefix = "a-01" }, harness.Token);
        Assert.Null(Assert.Single(withoutPayloads.Instances).SerializedOutput);

        async Task<List<string>> Ids(OrchestrationQuery query)
        {
            var ids = new List<string>();
            var next = query with { PageSize = 4 };
            do
            {
                var page = await harness.Client.QueryInstanceRecordsAsync(next, harness.Token);
                ids.AddRange(page.Instances.Select(m => m.InstanceId));
                next = next with { ContinuationToken = page.ContinuationToken };
            }
            while (next.ContinuationToken is not null);
            return ids;
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1001)]
    public async Task Page_size_out_of_range_is_rejected_with_a_message_naming_it(int size)
    {
        await using var harness = await EngineHarness.StartAsync(_ => { }, o => o.StartWorker = false);

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => harness.Client.QueryInstanceRecordsAsync(new OrchestrationQuery { PageSize = size }, harness.Token));

        Assert.Contains("PageSize", ex.Message, StringComparison.Ordinal);
    }
}
