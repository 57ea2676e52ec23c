using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Storage.Sqlite.Tests;

public sealed class SqliteGroupCommitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Concurrent_commits_all_complete_and_are_durable()
    {
        const int Callers = 400;
        using var db = new TempDatabase();
        await using (var backend = db.NewBackend())
        {
            await backend.OpenAsync(Ct);
            await Task.WhenAll(Enumerable.Range(1, Callers).Select(i => Task.Run(() => backend.CommitAsync(NewInstanceBatch(i), Ct), Ct)));
            Assert.Equal(Callers, backend.Writer!.Batches);
            Assert.True(backend.Writer.Transactions <= Callers);
        }

        await using var reopened = db.NewBackend();
        var state = await reopened.OpenAsync(Ct);
        Assert.Equal(Callers, state.ActiveInstances.Count);
        Assert.Equal(Callers, state.Messages.Count);
        Assert.Equal(Callers, state.MaxSequence);
        Assert.Single(await reopened.ReadHistoryAsync("i-17", null, Ct));
    }

    [Fact]
    public async Task A_conflicting_batch_fails_alone_while_the_rest_of_its_transaction_commits()
    {
        using var db = new TempDatabase();
        await using var backend = db.NewBackend();
        var transactionsBefore = await OpenWithTwoEventsOfDupAsync(backend);

        var conflicting = NewInstanceBatch(100);
        conflicting.AppendHistory.Add(new HistoryAppend("dup", "e1", 1, [TempDatabase.Event(1)]));
        backend.Writer!.Hold();
        var good = Enumerable.Range(1, 9).Select(i => backend.CommitAsync(NewInstanceBatch(i), Ct)).ToList();
        var bad = backend.CommitAsync(conflicting, Ct);
        good.Add(backend.CommitAsync(NewInstanceBatch(10), Ct));
        backend.Writer.Resume();

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => bad);
        Assert.Contains("History of 'dup' already has event #1", ex.Message, StringComparison.Ordinal);
        await Task.WhenAll(good);
        Assert.Equal(transactionsBefore + 1, backend.Writer.Transactions);

        var state = await backend.OpenAsync(Ct);
        Assert.Equal(10, state.ActiveInstances.Count);
        Assert.DoesNotContain(state.ActiveInstances, i => i.InstanceId == "i-100");
        Assert.DoesNotContain(state.Messages, m => m.Sequence == 100);
        Assert.Equal(2, (await backend.ReadHistoryAsync("dup", "e1", Ct)).Count);
    }

    [Fact]
    public async Task Two_conflicting_batches_of_one_group_each_fail_and_the_rest_commit_in_one_transaction()
    {
        using var db = new TempDatabase();
        await using var backend = db.NewBackend();
        var transactionsBefore = await OpenWithTwoEventsOfDupAsync(backend);

        StoreBatch Conflicting(int i, int sequence)
        {
            var batch = NewInstanceBatch(i);
            batch.AppendHistory.Add(new HistoryAppend("dup", "e1", sequence, [TempDatabase.Event(sequence)]));
            return batch;
        }

        backend.Writer!.Hold();
        var first = backend.CommitAsync(NewInstanceBatch(1), Ct);
        var badEarly = backend.CommitAsync(Conflicting(100, 0), Ct);
        var middle = backend.CommitAsync(NewInstanceBatch(2), Ct);
        var badLate = backend.CommitAsync(Conflicting(101, 1), Ct);
        var last = backend.CommitAsync(NewInstanceBatch(3), Ct);
        backend.Writer.Resume();

        Assert.Contains("already has event #0", (await Assert.ThrowsAsync<InvalidOperationException>(() => badEarly)).Message, StringComparison.Ordinal);
        Assert.Contains("already has event #1", (await Assert.ThrowsAsync<InvalidOperationException>(() => badLate)).Message, StringComparison.Ordinal);
        await Task.WhenAll(first, middle, last);
        Assert.Equal(transactionsBefore + 1, backend.Writer.Transactions);

        var state = await backend.OpenAsync(Ct);
        Assert.Equal(["i-1", "i-2", "i-3"], state.ActiveInstances.Select(i => i.InstanceId).Order(StringComparer.Ordinal));
        Assert.Equal([1L, 2L, 3L], state.Messages.Select(m => m.Sequence));
        Assert.Equal(2, (await backend.ReadHistoryAsync("dup", "e1", Ct)).Count);
    }

    [Fact]
    public async Task A_lone_batch_on_an_idle_writer_is_committed_before_CommitAsync_returns()
    {
        using var db = new TempDatabase();
        await using var backend = db.NewBackend();
        await backend.OpenAsync(Ct);
        var writer = backend.Writer!;
        for (var i = 1; i <= 5; i++)
        {
            WaitUntilIdle(writer);
            var inlineBefore = writer.InlineGroups;

            var commit = backend.CommitAsync(NewInstanceBatch(i), Ct);

            Assert.True(commit.IsCompletedSuccessfully, $"commit {i} was still pending when CommitAsync returned");
            Assert.Equal(inlineBefore + 1, writer.InlineGroups);
            Assert.NotNull(await backend.ReadInstanceAsync($"i-{i}", false, Ct));
        }
    }

    [Fact]
    public async Task After_a_group_of_several_batches_the_next_batch_goes_to_the_writer_thread()
    {
        using var db = new TempDatabase();
        await using var backend = db.NewBackend();
        await backend.OpenAsync(Ct);
        var writer = backend.Writer!;
        writer.Hold();
        var held = Enumerable.Range(1, 4).Select(i => backend.CommitAsync(NewInstanceBatch(i), Ct)).ToList();
        writer.Resume();
        await Task.WhenAll(held);
        WaitUntilIdle(writer);
        var inlineBefore = writer.InlineGroups;

        // Callers came together last time: this one is handed to the writer thread rather than committed here.
        await backend.CommitAsync(NewInstanceBatch(5), Ct);
        Assert.Equal(inlineBefore, writer.InlineGroups);

        // That group held one batch: callers come one at a time again, and the next one commits its own.
        WaitUntilIdle(writer);
        var commit = backend.CommitAsync(NewInstanceBatch(6), Ct);
        Assert.True(commit.IsCompletedSuccessfully);
        Assert.Equal(inlineBefore + 1, writer.InlineGroups);
    }

    private static void WaitUntilIdle(SqliteBatchWriter writer) =>
        Assert.True(SpinWait.SpinUntil(() => writer.IsIdle, TimeSpan.FromSeconds(10)), "the writer thread did not go idle");

    [Fact]
    public async Task A_group_carries_at_most_MaxBatchSize_batches()
    {
        using var db = new TempDatabase();
        await using var backend = db.NewBackend(maxBatchSize: 3);
        await backend.OpenAsync(Ct);
        backend.Writer!.Hold();
        var commits = Enumerable.Range(1, 10).Select(i => backend.CommitAsync(NewInstanceBatch(i), Ct)).ToList();
        backend.Writer.Resume();
        await Task.WhenAll(commits);
        Assert.Equal(4, backend.Writer.Transactions);
    }

    [Fact]
    public async Task A_queued_batch_is_not_visible_to_reads_before_it_commits()
    {
        using var db = new TempDatabase();
        await using var backend = db.NewBackend();
        await backend.OpenAsync(Ct);
        backend.Writer!.Hold();
        var commit = backend.CommitAsync(NewInstanceBatch(1), Ct);
        Assert.Null(await backend.ReadInstanceAsync("i-1", false, Ct));
        Assert.False(commit.IsCompleted);
        backend.Writer.Resume();
        await commit;
        Assert.NotNull(await backend.ReadInstanceAsync("i-1", false, Ct));
    }

    [Fact]
    public async Task Dispose_commits_the_batches_still_queued()
    {
        using var db = new TempDatabase();
        var backend = db.NewBackend();
        await backend.OpenAsync(Ct);
        backend.Writer!.Hold();
        var commits = Enumerable.Range(1, 50).Select(i => backend.CommitAsync(NewInstanceBatch(i), Ct)).ToList();
        await backend.DisposeAsync();
        Assert.All(commits, c => Assert.True(c.IsCompletedSuccessfully));

        await using var reopened = db.NewBackend();
        Assert.Equal(50, (await reopened.OpenAsync(Ct)).Messages.Count);
    }

    [Fact]
    public async Task Under_steady_load_the_WAL_starts_over_instead_of_growing_with_every_commit()
    {
        // 8 callers add instances with a 64 KiB input as fast as commits go, for at least 64 MiB and twelve checkpoint
        // intervals: without a checkpoint that gets through the whole WAL, the file holds every frame written (more
        // than the inputs). When the log starts over after each round, its file only grows to what a round or two
        // writes, a small share of the whole however fast the machine writes (a fixed byte limit failed on a fast one).
        const int Callers = 8;
        const long Written = 64L * 1024 * 1024;
        using var db = new TempDatabase();
        await using var backend = db.NewBackend();
        await backend.OpenAsync(Ct);
        var input = new string('x', 64 * 1024);
        var started = TimeProvider.System.GetTimestamp();
        var minimum = SqliteWalCheckpointer.Interval * 12;
        long bytes = 0;
        await Task.WhenAll(Enumerable.Range(1, Callers).Select(c => Task.Run(
            async () =>
            {
                var n = 0;
                while (Interlocked.Read(ref bytes) < Written || TimeProvider.System.GetElapsedTime(started) < minimum)
                {
                    var batch = new StoreBatch();
                    batch.UpsertInstances.Add(TempDatabase.Instance($"i-{c}-{n++}") with { SerializedInput = input });
                    await backend.CommitAsync(batch, Ct);
                    Interlocked.Add(ref bytes, input.Length);
                }
            },
            Ct)));

        var wal = new FileInfo(db.Path + "-wal");
        Assert.True(wal.Length < Interlocked.Read(ref bytes) / 2, $"The WAL is {wal.Length} bytes after {bytes} bytes of inputs were committed.");
    }

    /// <summary>Opens the backend and commits two history events of execution e1 of "dup"; returns the transactions so far.</summary>
    private static async Task<long> OpenWithTwoEventsOfDupAsync(SqliteStoreBackend backend)
    {
        await backend.OpenAsync(Ct);
        var existing = new StoreBatch();
        existing.AppendHistory.Add(new HistoryAppend("dup", "e1", 0, [TempDatabase.Event(0), TempDatabase.Event(1)]));
        await backend.CommitAsync(existing, Ct);
        return backend.Writer!.Transactions;
    }

    private static StoreBatch NewInstanceBatch(int i)
    {
        var id = $"i-{i}";
        var batch = new StoreBatch();
        batch.UpsertInstances.Add(TempDatabase.Instance(id));
        batch.AppendHistory.Add(new HistoryAppend(id, "e1", 0, [TempDatabase.Event(0)]));
        batch.InsertMessages.Add(new StoredMessage(i, id, null, TempDatabase.Event(i)));
        return batch;
    }
}
