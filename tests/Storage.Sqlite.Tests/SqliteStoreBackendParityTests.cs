using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Storage.Sqlite.Tests;

/// <summary>The SQLite backend answers exactly like the in-memory one, given the same batches.</summary>
public sealed class SqliteStoreBackendParityTests : IAsyncLifetime
{
    private static readonly string[] Names = ["wf", "WF", "Wf", "other", "ÄPFEL", "äpfel"];
    private readonly TempDatabase _db = new();
    private readonly InMemoryStoreBackend _memory = new();
    private SqliteStoreBackend _sqlite = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _sqlite = _db.NewBackend();
        await _sqlite.OpenAsync(Ct);
        await _memory.OpenAsync(Ct);
        var batch = new StoreBatch();
        for (var i = 0; i < 48; i++)
        {
            var id = i % 5 == 0 ? $"other-{i:D2}" : $"inst-{i:D2}";
            var status = (OrchestrationRuntimeStatus)(i % 8);
            batch.UpsertInstances.Add(TempDatabase.Instance(id, status, TempDatabase.T0.AddMinutes(i % 7), Names[i % Names.Length]) with
            {
                SerializedOutput = status.IsTerminal() ? $"\"out-{i}\"" : null,
                CompletedAt = status.IsTerminal() ? TempDatabase.T0.AddHours(1) : null,
            });
            batch.AppendHistory.Add(new HistoryAppend(id, "e1", 0, [TempDatabase.Event(0), TempDatabase.Event(1), TempDatabase.Event(2)]));
            batch.InsertMessages.Add(new StoredMessage(1000 + i, id, null, TempDatabase.Event(i)));
            batch.InsertActivities.Add(new StoredActivity(2000 + i, TempDatabase.Activity(id, i)));
        }

        await BothCommit(batch);
    }

    public async ValueTask DisposeAsync()
    {
        await _sqlite.DisposeAsync();
        _db.Dispose();
    }

    public static TheoryData<string> Queries() => [.. QueryCases.Keys];

    [Theory]
    [MemberData(nameof(Queries))]
    public async Task Query_pages_match_the_in_memory_backend(string name)
    {
        var query = QueryCases[name];
        var (memoryPages, sqlitePages) = (new List<string>(), new List<string>());
        foreach (var (backend, pages) in new (IStoreBackend, List<string>)[] { (_memory, memoryPages), (_sqlite, sqlitePages) })
        {
            var q = query;
            while (true)
            {
                var page = await backend.QueryInstancesAsync(q, Ct);
                pages.Add(Describe.Page(page));
                if (page.ContinuationToken is null || pages.Count > 100)
                {
                    break;
                }

                q = q with { ContinuationToken = page.ContinuationToken };
            }
        }

        Assert.Equal(memoryPages, sqlitePages);
        if (name != "nothing")
        {
            Assert.NotEqual("\ntoken=", sqlitePages[0]);
        }
    }

    [Fact]
    public async Task Purgeable_instances_match_the_in_memory_backend()
    {
        PurgeFilter[] filters =
        [
            new(),
            new() { Statuses = [OrchestrationRuntimeStatus.Completed] },
            new() { Statuses = [OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated], CreatedFrom = TempDatabase.T0.AddMinutes(1) },
            new() { CreatedTo = TempDatabase.T0.AddMinutes(3) },
        ];
        foreach (var filter in filters)
        {
            foreach (var limit in new[] { 0, 1, 5, 1000 })
            {
                Assert.Equal(await _memory.FindPurgeableAsync(filter, limit, Ct), await _sqlite.FindPurgeableAsync(filter, limit, Ct));
            }
        }
    }

    [Fact]
    public async Task Instance_and_history_reads_match_the_in_memory_backend()
    {
        foreach (var id in new[] { "inst-01", "other-05", "missing" })
        {
            foreach (var payloads in new[] { true, false })
            {
                Assert.Equal(Describe.Instance(await _memory.ReadInstanceAsync(id, payloads, Ct)), Describe.Instance(await _sqlite.ReadInstanceAsync(id, payloads, Ct)));
            }

            foreach (var execution in new[] { null, "e1", "e2" })
            {
                Assert.Equal(await _memory.ReadHistoryAsync(id, execution, Ct), await _sqlite.ReadHistoryAsync(id, execution, Ct));
            }
        }
    }

    [Fact]
    public async Task Progress_only_row_updates_match_the_in_memory_backend_and_fall_back_to_whole_rows()
    {
        var batch = new StoreBatch();

        // A checkpoint that keeps the status, one that finishes the run, and hints that do not hold: a row that is not
        // stored, and one of another execution. Each must leave the row the in-memory backend's whole replacement does.
        var stored1 = (await _memory.ReadInstanceAsync("inst-01", true, Ct))!;
        var stored2 = (await _memory.ReadInstanceAsync("inst-02", true, Ct))!;
        batch.UpsertInstances.Add(stored1 with { LastUpdatedAt = TempDatabase.T0.AddHours(2), SerializedCustomStatus = "\"step 2\"" });
        batch.ProgressOnly["inst-01"] = false;
        batch.UpsertInstances.Add(stored2 with
        {
            Status = OrchestrationRuntimeStatus.Completed,
            LastUpdatedAt = TempDatabase.T0.AddHours(3),
            CompletedAt = TempDatabase.T0.AddHours(3),
            SerializedOutput = "\"done\"",
        });
        batch.ProgressOnly["inst-02"] = true;
        batch.UpsertInstances.Add(TempDatabase.Instance("new-01"));
        batch.ProgressOnly["new-01"] = false;
        batch.UpsertInstances.Add(TempDatabase.Instance("inst-03") with { ExecutionId = "e9", SerializedInput = "\"again\"" });
        batch.ProgressOnly["inst-03"] = true;
        await BothCommit(batch);

        foreach (var id in new[] { "inst-01", "inst-02", "new-01", "inst-03" })
        {
            Assert.Equal(Describe.Instance(await _memory.ReadInstanceAsync(id, true, Ct)), Describe.Instance(await _sqlite.ReadInstanceAsync(id, true, Ct)));
        }

        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await _sqlite.ReadInstanceAsync("inst-02", false, Ct))?.Status);
        Assert.Equal(Describe.State(await _memory.OpenAsync(Ct)), Describe.State(await _sqlite.OpenAsync(Ct)));
    }

    [Fact]
    public async Task Delete_truncate_and_continue_as_new_match_the_in_memory_backend()
    {
        var batch = new StoreBatch();
        batch.DeleteInstances.Add("inst-01");
        batch.UpsertInstances.Add(TempDatabase.Instance("inst-02") with { ExecutionId = "e2" });
        batch.TruncateHistory.Add(("inst-02", "e2"));
        batch.AppendHistory.Add(new HistoryAppend("inst-02", "e2", 0, [TempDatabase.Event(10)]));
        batch.AppendHistory.Add(new HistoryAppend("inst-03", "e1", 3, [TempDatabase.Event(3)]));
        batch.DeleteMessages.Add(1003);
        batch.DeleteActivities.Add(2004);
        batch.UpsertEntities.Add(new EntityRecord("@e@1", "1", TempDatabase.T0, null, null));
        await BothCommit(batch);

        // Re-creating a deleted instance in the same batch skips the duplicate guard.
        var recreate = new StoreBatch();
        recreate.DeleteInstances.Add("inst-04");
        recreate.UpsertInstances.Add(TempDatabase.Instance("inst-04"));
        recreate.AppendHistory.Add(new HistoryAppend("inst-04", "e1", 0, [TempDatabase.Event(0)]));
        recreate.DeleteEntities.Add("@e@1");
        await BothCommit(recreate);

        Assert.Equal(Describe.State(await _memory.OpenAsync(Ct)), Describe.State(await _sqlite.OpenAsync(Ct)));
        foreach (var id in new[] { "inst-01", "inst-02", "inst-03", "inst-04" })
        {
            foreach (var execution in new[] { null, "e1", "e2" })
            {
                Assert.Equal(await _memory.ReadHistoryAsync(id, execution, Ct), await _sqlite.ReadHistoryAsync(id, execution, Ct));
            }
        }
    }

    [Fact]
    public async Task Duplicate_history_fails_with_the_in_memory_message_and_changes_nothing()
    {
        var before = Describe.State(await _sqlite.OpenAsync(Ct));
        var batch = new StoreBatch();
        batch.InsertMessages.Add(new StoredMessage(5000, "inst-01", null, TempDatabase.Event(1)));
        batch.AppendHistory.Add(new HistoryAppend("inst-01", "e1", 2, [TempDatabase.Event(2)]));
        var expected = await Assert.ThrowsAsync<InvalidOperationException>(() => _memory.CommitAsync(batch, Ct));
        var actual = await Assert.ThrowsAsync<InvalidOperationException>(() => _sqlite.CommitAsync(batch, Ct));
        Assert.Equal(expected.Message, actual.Message);
        Assert.Equal(before, Describe.State(await _sqlite.OpenAsync(Ct)));
    }

    [Fact]
    public async Task The_history_primary_key_catches_a_repeated_event_number()
    {
        var batch = new StoreBatch();
        batch.AppendHistory.Add(new HistoryAppend("fresh", "e1", 0, [TempDatabase.Event(0)]));
        batch.AppendHistory.Add(new HistoryAppend("fresh", "e1", 0, [TempDatabase.Event(0)]));
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => _sqlite.CommitAsync(batch, Ct));
        Assert.Contains("'fresh' already has event #0", ex.Message, StringComparison.Ordinal);
        Assert.IsType<Microsoft.Data.Sqlite.SqliteException>(ex.InnerException);
        Assert.Empty(await _sqlite.ReadHistoryAsync("fresh", "e1", Ct));
    }

    private static readonly Dictionary<string, OrchestrationQuery> QueryCases = new()
    {
        ["all"] = new() { PageSize = 7 },
        ["all-one-page"] = new() { PageSize = 1000, IncludePayloads = true },
        ["statuses"] = new() { PageSize = 4, Statuses = [OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed] },
        ["created-range"] = new() { PageSize = 5, CreatedFrom = TempDatabase.T0.AddMinutes(2), CreatedTo = TempDatabase.T0.AddMinutes(5) },
        ["prefix"] = new() { PageSize = 3, InstanceIdPrefix = "inst-1" },
        ["name-ascii-case"] = new() { PageSize = 6, Name = "wF" },
        ["name-non-ascii-case"] = new() { PageSize = 2, Name = "Äpfel", IncludePayloads = true },
        ["everything"] = new()
        {
            PageSize = 2, Name = "WF", InstanceIdPrefix = "inst", CreatedFrom = TempDatabase.T0.AddMinutes(1),
            Statuses = [OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Pending, OrchestrationRuntimeStatus.Suspended, OrchestrationRuntimeStatus.Completed],
        },
        ["nothing"] = new() { Name = "nobody" },
    };

    private async Task BothCommit(StoreBatch batch)
    {
        await _memory.CommitAsync(batch, Ct);
        await _sqlite.CommitAsync(batch, Ct);
    }
}
