using System.Diagnostics;
using KataWorkflows.Engine.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.Storage.Sqlite;

/// <summary>
/// The single writer of a database, doing group commit: it takes every batch waiting (up to the configured
/// maximum), applies them one after another in one <c>BEGIN IMMEDIATE</c> transaction and commits them together, so
/// one disk flush serves many callers. A batch that fails is left out: the transaction is rolled back and the
/// others are applied again without it, so only its caller sees the error. When the database itself fails (the
/// commit, a full disk, an I/O error), every batch of the transaction fails.
/// </summary>
/// <remarks>
/// <para>
/// Under load it runs on a dedicated thread, because SQLite calls block (a commit waits for fsync) and the thread
/// pool should not. When nothing is being committed and nothing is queued, the caller commits its own batch on its
/// own thread instead: handing a lone batch to a sleeping thread and its completion back to another is two thread
/// wake-ups per commit, which on a virtual machine cost more than a commit without fsync. This happens only while
/// the last group held a single batch, that is while callers come one at a time; under load, groups grow and the
/// writer thread keeps them, so no pool thread waits for an fsync. Batches that arrive during an inline commit queue
/// up, and the writer thread takes them over when the caller is done.
/// </para>
/// <para>Every statement is prepared once on the writer connection and reused with new parameter values.</para>
/// </remarks>
internal sealed class SqliteBatchWriter : IDisposable
{
    private const int SqliteConstraintError = 19;
    private static readonly TimeSpan SlowCommit = TimeSpan.FromSeconds(1);

    private readonly SqliteConnection _connection;
    private readonly string _path;
    private readonly int _maxBatchSize;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly Queue<SqliteEncodedBatch> _queue = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Statement> _statements = [];
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _hold = new(initialState: true);
    private readonly SqliteWalCheckpointer _checkpointer;
    private long _transactions;
    private long _inlineGroups;
    private long _batches;
    private bool _stopping;
    private bool _writerWaiting;

    // A group is being committed, by the writer thread or by a caller that found the writer idle.
    private bool _committing;

    // Batches in the last group committed: one means callers commit one at a time, so a caller may commit its own.
    private int _lastGroupSize;

    private readonly Statement _begin;
    private readonly Statement _commit;
    private readonly Statement _rollback;
    private readonly Statement _checkpointRemainder;
    private readonly Statement _deleteInstance;
    private readonly Statement _upsertInstance;
    private readonly Statement _updateProgress;
    private readonly Statement _updateProgressAndStatus;
    private readonly Statement _truncateHistory;
    private readonly Statement _insertHistory;
    private readonly Statement _insertMessage;
    private readonly Statement _deleteMessage;
    private readonly Statement _insertActivity;
    private readonly Statement _deleteActivity;
    private readonly Statement _upsertEntity;
    private readonly Statement _deleteEntity;

    public SqliteBatchWriter(SqliteConnection connection, SqliteWalCheckpointer checkpointer, string path, int maxBatchSize, ILogger logger)
    {
        _connection = connection;
        _checkpointer = checkpointer;
        _path = path;
        _maxBatchSize = maxBatchSize;
        _logger = logger;
        try
        {
            _begin = Prepare("BEGIN IMMEDIATE");
            _commit = Prepare("COMMIT");
            _rollback = Prepare("ROLLBACK");
            _checkpointRemainder = Prepare("PRAGMA wal_checkpoint(PASSIVE)");
            _deleteInstance = Prepare(
                """
                DELETE FROM Instances WHERE InstanceId = $id;
                DELETE FROM History WHERE InstanceId = $id;
                DELETE FROM Messages WHERE InstanceId = $id;
                DELETE FROM Activities WHERE InstanceId = $id;
                """,
                "$id");
            _upsertInstance = Prepare(
                """
                INSERT INTO Instances (InstanceId, Name, Version, ExecutionId, Status, CreatedAt, LastUpdatedAt, CompletedAt,
                    ScheduledStartAt, Input, Output, CustomStatus, FailureDetails, ParentInstanceId, Tags, TraceParent)
                VALUES ($id, $name, $version, $execution, $status, $created, $updated, $completed,
                    $scheduled, $input, $output, $customStatus, $failure, $parent, $tags, $traceParent)
                ON CONFLICT (InstanceId) DO UPDATE SET
                    Name = excluded.Name, Version = excluded.Version, ExecutionId = excluded.ExecutionId, Status = excluded.Status,
                    CreatedAt = excluded.CreatedAt, LastUpdatedAt = excluded.LastUpdatedAt, CompletedAt = excluded.CompletedAt,
                    ScheduledStartAt = excluded.ScheduledStartAt, Input = excluded.Input, Output = excluded.Output,
                    CustomStatus = excluded.CustomStatus, FailureDetails = excluded.FailureDetails,
                    ParentInstanceId = excluded.ParentInstanceId, Tags = excluded.Tags, TraceParent = excluded.TraceParent
                """,
                "$id", "$name", "$version", "$execution", "$status", "$created", "$updated", "$completed",
                "$scheduled", "$input", "$output", "$customStatus", "$failure", "$parent", "$tags", "$traceParent");

            // A checkpoint's row update writes only the columns that move, so the indexes on CreatedAt and Status stay
            // untouched (SQLite rewrites an index entry whenever its column is assigned, even to the same value).
            const string Progress = "LastUpdatedAt = $updated, CompletedAt = $completed, Output = $output, CustomStatus = $customStatus, FailureDetails = $failure";
            _updateProgress = Prepare(
                $"UPDATE Instances SET {Progress} WHERE InstanceId = $id AND ExecutionId = $execution",
                "$id", "$execution", "$updated", "$completed", "$output", "$customStatus", "$failure");
            _updateProgressAndStatus = Prepare(
                $"UPDATE Instances SET Status = $status, {Progress} WHERE InstanceId = $id AND ExecutionId = $execution",
                "$id", "$execution", "$updated", "$completed", "$output", "$customStatus", "$failure", "$status");
            _truncateHistory = Prepare("DELETE FROM History WHERE InstanceId = $id AND ExecutionId <> $keep", "$id", "$keep");
            _insertHistory = Prepare(
                "INSERT INTO History (InstanceId, ExecutionId, SequenceNumber, EventType, Data) VALUES ($id, $execution, $sequence, $type, $data)",
                "$id", "$execution", "$sequence", "$type", "$data");
            _insertMessage = Prepare(
                "INSERT OR REPLACE INTO Messages (Sequence, InstanceId, VisibleAt, Data) VALUES ($sequence, $id, $visibleAt, $data)",
                "$sequence", "$id", "$visibleAt", "$data");
            _deleteMessage = Prepare("DELETE FROM Messages WHERE Sequence = $sequence", "$sequence");
            _insertActivity = Prepare(
                "INSERT OR REPLACE INTO Activities (Sequence, InstanceId, Data) VALUES ($sequence, $id, $data)", "$sequence", "$id", "$data");
            _deleteActivity = Prepare("DELETE FROM Activities WHERE Sequence = $sequence", "$sequence");
            _upsertEntity = Prepare(
                """
                INSERT OR REPLACE INTO Entities (InstanceId, State, LastModifiedAt, LockedBy, CriticalSectionId, LockSet)
                VALUES ($id, $state, $modified, $lockedBy, $criticalSection, $lockSet)
                """,
                "$id", "$state", "$modified", "$lockedBy", "$criticalSection", "$lockSet");
            _deleteEntity = Prepare("DELETE FROM Entities WHERE InstanceId = $id", "$id");
        }
        catch
        {
            DisposeStatements();
            throw;
        }

        _thread = new Thread(Run) { IsBackground = true, Name = "KataWorkflows SQLite writer" };
    }

    /// <summary>Transactions committed so far (tests use it to see batches share one).</summary>
    public long Transactions => Interlocked.Read(ref _transactions);

    /// <summary>Batches committed so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Keeps the writer from taking the next group until <see cref="Resume"/> (tests queue batches meanwhile).</summary>
    public void Hold() => _hold.Reset();

    /// <summary>Lets the writer go on.</summary>
    public void Resume() => _hold.Set();

    /// <summary>Starts the writer thread and the checkpointer's.</summary>
    public void Start()
    {
        _checkpointer.Start();
        _thread.Start();
    }

    /// <summary>Groups committed on a caller's thread rather than the writer's (tests read it).</summary>
    public long InlineGroups => Interlocked.Read(ref _inlineGroups);

    /// <summary>True while the writer thread sleeps with nothing to do (tests wait for it).</summary>
    public bool IsIdle
    {
        get
        {
            lock (_gate)
            {
                return _writerWaiting && !_committing && _queue.Count == 0;
            }
        }
    }

    /// <summary>
    /// Queues a batch; the returned task completes when the transaction carrying it committed. When the writer is
    /// idle, the batch is committed before this returns, on the caller's thread, and the task is already complete.
    /// </summary>
    public Task Enqueue(SqliteEncodedBatch batch)
    {
        bool commitHere;
        lock (_gate)
        {
            if (_stopping)
            {
                throw new ObjectDisposedException(nameof(SqliteStoreBackend), $"The SQLite store '{_path}' is closed.");
            }

            _queue.Enqueue(batch);
            commitHere = !_committing && _queue.Count == 1 && _lastGroupSize <= 1 && _hold.IsSet && _writerWaiting;
            if (commitHere)
            {
                _committing = true;
            }
            else if (_writerWaiting && !_committing)
            {
                Monitor.Pulse(_gate);
            }
        }

        if (commitHere)
        {
            CommitInline();
        }

        return batch.Completion.Task;
    }

    /// <summary>Commits one group on the caller's thread, then leaves whatever queued meanwhile to the writer thread.</summary>
    private void CommitInline()
    {
        var group = new List<SqliteEncodedBatch>();
        lock (_gate)
        {
            TakeGroup(group);
        }

        Interlocked.Increment(ref _inlineGroups);
        CommitTakenGroup(group, wakeWriter: true);
    }

    /// <summary>Moves the batches waiting, up to the maximum, into <paramref name="group"/>; the caller holds the gate.</summary>
    private void TakeGroup(List<SqliteEncodedBatch> group)
    {
        while (group.Count < _maxBatchSize && _queue.TryDequeue(out var batch))
        {
            group.Add(batch);
        }
    }

    /// <summary>
    /// Commits a group taken while <see cref="_committing"/> was set, copies what the checkpointer's last round left,
    /// and clears the flag; with <paramref name="wakeWriter"/>, wakes the writer thread for what queued meanwhile.
    /// </summary>
    private void CommitTakenGroup(List<SqliteEncodedBatch> group, bool wakeWriter)
    {
        try
        {
            CommitGroup(group);
            if (_checkpointer.TakeRoundDone())
            {
                CheckpointRemainder();
            }
        }
        finally
        {
            lock (_gate)
            {
                _committing = false;
                if (wakeWriter && _writerWaiting && (_queue.Count > 0 || _stopping))
                {
                    Monitor.Pulse(_gate);
                }
            }
        }
    }

    /// <summary>Stops taking batches, lets the writer commit what is queued, and waits for it to exit.</summary>
    public Task StopAsync()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.Pulse(_gate);
        }

        _hold.Set();

        var stopped = _thread.ThreadState == System.Threading.ThreadState.Unstarted ? Task.CompletedTask : _stopped.Task;
        return stopped.ContinueWith(_ => _checkpointer.Stop(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        DisposeStatements();
        _hold.Dispose();
        _checkpointer.Dispose();
        _connection.Dispose();
    }

    private void Run()
    {
        var group = new List<SqliteEncodedBatch>(_maxBatchSize);
        try
        {
            while (true)
            {
                _hold.Wait();
                lock (_gate)
                {
                    if (!_hold.IsSet)
                    {
                        // Held again since the wait above: batches queued meanwhile wait for one group.
                        continue;
                    }

                    if (_queue.Count == 0 || _committing)
                    {
                        if (_stopping && _queue.Count == 0 && !_committing)
                        {
                            return;
                        }

                        _writerWaiting = true;
                        Monitor.Wait(_gate);
                        _writerWaiting = false;
                        continue;
                    }

                    _committing = true;
                    TakeGroup(group);
                }

                CommitTakenGroup(group, wakeWriter: false);
                group.Clear();
            }
        }
        catch (Exception ex)
        {
            // Not reached by SQLite errors (CommitGroup handles those); anything else must not leave callers hanging.
            Log.WriterCrashed(_logger, _path, ex);
            lock (_gate)
            {
                _stopping = true;
                group.AddRange(_queue);
                _queue.Clear();
            }

            foreach (var batch in group)
            {
                batch.Completion.TrySetException(ex);
            }
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    private void CommitGroup(List<SqliteEncodedBatch> group)
    {
        var started = Stopwatch.GetTimestamp();
        Volatile.Write(ref _lastGroupSize, group.Count);
        while (true)
        {
            SqliteEncodedBatch? failed = null;
            try
            {
                _begin.Execute();
                foreach (var batch in group)
                {
                    if (batch.Error is not null)
                    {
                        continue;
                    }

                    try
                    {
                        Apply(batch);
                    }
                    catch (Exception ex) when (BelongsToBatch(ex))
                    {
                        batch.Error = ex;
                        failed = batch;
                        break;
                    }
                }

                if (failed is null)
                {
                    _commit.Execute();
                    _checkpointer.Committed();
                    Interlocked.Increment(ref _transactions);
                    Interlocked.Add(ref _batches, group.Count(b => b.Error is null));
                    break;
                }

                // Whatever went wrong belongs to that batch alone: its caller gets the error and the others are
                // applied again without it. Batches carry no savepoints of their own (two statements each), as a
                // failing batch is rare: it means two workers ran the same episode.
                Log.BatchRejected(_logger, _path, failed.Error!.Message);
                TryRollback();
            }
            catch (Exception ex)
            {
                // BEGIN or COMMIT failed, or SQLite itself gave up (disk full, I/O error): every batch fails.
                TryRollback();
                Log.CommitFailed(_logger, _path, group.Count, ex);
                foreach (var batch in group)
                {
                    batch.Error ??= ex;
                }

                break;
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        if (elapsed >= SlowCommit)
        {
            Log.SlowCommit(_logger, _path, group.Count, (long)elapsed.TotalMilliseconds);
        }
        else
        {
            Log.GroupCommitted(_logger, _path, group.Count, elapsed.TotalMilliseconds);
        }

        foreach (var batch in group)
        {
            if (batch.Error is { } error)
            {
                batch.Completion.TrySetException(error);
            }
            else
            {
                batch.Completion.TrySetResult();
            }
        }
    }

    /// <summary>
    /// True for an error that one batch's content caused (a constraint it violates, a value it cannot bind): the
    /// others may commit without it. Any other SQLite error says the database itself failed, and fails them all.
    /// </summary>
    private static bool BelongsToBatch(Exception ex) => ex is not SqliteException sqlite || sqlite.SqliteErrorCode == SqliteConstraintError;

    /// <summary>
    /// Copies what the checkpointer's last round left in the WAL (the frames committed while it ran), so the next
    /// transaction starts the WAL over. Runs after the group's callers were told, while new batches queue.
    /// </summary>
    private void CheckpointRemainder()
    {
        try
        {
            _checkpointRemainder.Execute();
        }
        catch (SqliteException ex)
        {
            // The frames stay in the WAL for the next round; nothing committed depends on this.
            Log.CheckpointFailed(_logger, _path, ex.Message);
        }
    }

    /// <summary>Applies one batch in the order the in-memory backend does.</summary>
    private void Apply(SqliteEncodedBatch encoded)
    {
        var batch = encoded.Batch;

        foreach (var id in batch.DeleteInstances)
        {
            _deleteInstance.Set(0, id).Execute();
        }

        for (var i = 0; i < batch.UpsertInstances.Count; i++)
        {
            var m = batch.UpsertInstances[i];
            if (batch.ProgressOnly.TryGetValue(m.InstanceId, out var statusChanged))
            {
                var update = (statusChanged ? _updateProgressAndStatus.Set(7, (int)m.Status) : _updateProgress)
                    .Set(0, m.InstanceId).Set(1, m.ExecutionId).Set(2, SqliteRecords.ToTicks(m.LastUpdatedAt))
                    .Set(3, SqliteRecords.ToTicksOrNull(m.CompletedAt)).Set(4, m.SerializedOutput).Set(5, m.SerializedCustomStatus)
                    .Set(6, encoded.InstanceFailures[i]);
                if (update.Execute() == 1)
                {
                    continue;
                }

                // Not the row the store thought it was: write it whole.
            }

            _upsertInstance
                .Set(0, m.InstanceId).Set(1, m.Name).Set(2, m.Version).Set(3, m.ExecutionId).Set(4, (int)m.Status)
                .Set(5, SqliteRecords.ToTicks(m.CreatedAt)).Set(6, SqliteRecords.ToTicks(m.LastUpdatedAt))
                .Set(7, SqliteRecords.ToTicksOrNull(m.CompletedAt)).Set(8, SqliteRecords.ToTicksOrNull(m.ScheduledStartAt))
                .Set(9, m.SerializedInput).Set(10, m.SerializedOutput).Set(11, m.SerializedCustomStatus)
                .Set(12, encoded.InstanceFailures[i]).Set(13, m.ParentInstanceId).Set(14, encoded.InstanceTags[i]).Set(15, m.TraceParent)
                .Execute();
        }

        foreach (var (instanceId, keep) in batch.TruncateHistory)
        {
            _truncateHistory.Set(0, instanceId).Set(1, keep).Execute();
        }

        for (var i = 0; i < batch.AppendHistory.Count; i++)
        {
            var append = batch.AppendHistory[i];
            var data = encoded.History[i];
            _insertHistory.Set(0, append.InstanceId).Set(1, append.ExecutionId);
            for (var j = 0; j < data.Length; j++)
            {
                var sequence = append.FirstSequence + j;
                _insertHistory.Set(2, sequence).Set(3, (int)append.Events[j].EventTypeCase).Set(4, data[j]);

                // The duplicate-episode guard: an execution's history is contiguous from 0, so an episode that was
                // already recorded collides with the primary key at its first event.
                try
                {
                    _insertHistory.Execute();
                }
                catch (SqliteException ex) when (ex.SqliteErrorCode == SqliteConstraintError)
                {
                    throw DuplicateHistory(append.InstanceId, sequence, ex);
                }
            }
        }

        for (var i = 0; i < batch.InsertMessages.Count; i++)
        {
            var message = batch.InsertMessages[i];
            _insertMessage.Set(0, message.Sequence).Set(1, message.InstanceId).Set(2, SqliteRecords.ToTicksOrNull(message.VisibleAt))
                .Set(3, encoded.Messages[i]).Execute();
        }

        foreach (var sequence in batch.DeleteMessages)
        {
            _deleteMessage.Set(0, sequence).Execute();
        }

        for (var i = 0; i < batch.InsertActivities.Count; i++)
        {
            var activity = batch.InsertActivities[i];
            _insertActivity.Set(0, activity.Sequence).Set(1, activity.Request.OrchestrationInstance?.InstanceId ?? string.Empty)
                .Set(2, encoded.Activities[i]).Execute();
        }

        foreach (var sequence in batch.DeleteActivities)
        {
            _deleteActivity.Set(0, sequence).Execute();
        }

        for (var i = 0; i < batch.UpsertEntities.Count; i++)
        {
            var entity = batch.UpsertEntities[i];
            _upsertEntity.Set(0, entity.InstanceId).Set(1, entity.SerializedState).Set(2, SqliteRecords.ToTicks(entity.LastModifiedAt))
                .Set(3, entity.LockedBy).Set(4, entity.CriticalSectionId).Set(5, encoded.EntityLockSets[i]).Execute();
        }

        foreach (var id in batch.DeleteEntities)
        {
            _deleteEntity.Set(0, id).Execute();
        }
    }

    private static InvalidOperationException DuplicateHistory(string instanceId, int sequence, Exception? inner) =>
        new($"History of '{instanceId}' already has event #{sequence}: two workers ran the same episode.", inner);

    private void TryRollback()
    {
        try
        {
            _rollback.Execute();
        }
        catch (SqliteException)
        {
            // No transaction is open (BEGIN failed, or SQLite rolled back already); nothing is left to undo.
        }
    }

    private Statement Prepare(string sql, params string[] parameters)
    {
        var statement = new Statement(_connection, sql, parameters);
        _statements.Add(statement);
        return statement;
    }

    private void DisposeStatements()
    {
        foreach (var statement in _statements)
        {
            statement.Dispose();
        }

        _statements.Clear();
    }

    /// <summary>A prepared command whose parameters are bound by position and reused for every row.</summary>
    private sealed class Statement : IDisposable
    {
        private readonly SqliteCommand _command;
        private readonly SqliteParameter[] _parameters;

        public Statement(SqliteConnection connection, string sql, string[] parameters)
        {
            _command = connection.CreateCommand();
            _command.CommandText = sql;
            _parameters = new SqliteParameter[parameters.Length];
            for (var i = 0; i < parameters.Length; i++)
            {
                _parameters[i] = _command.Parameters.Add(new SqliteParameter(parameters[i], DBNull.Value));
            }

            _command.Prepare();
        }

        public Statement Set(int index, object? value)
        {
            _parameters[index].Value = value ?? DBNull.Value;
            return this;
        }

        public int Execute() => _command.ExecuteNonQuery();

        public object? ExecuteScalar() => _command.ExecuteScalar();

        public void Dispose() => _command.Dispose();
    }
}
