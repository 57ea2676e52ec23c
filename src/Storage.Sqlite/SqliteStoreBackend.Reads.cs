using System.Globalization;
using System.Text;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Storage.Sqlite;

public sealed partial class SqliteStoreBackend
{
    // Status NOT IN (Completed 1, ContinuedAsNew is not terminal, Failed 3, Canceled 4, Terminated 5), written as
    // ranges so SQLite can use IX_Instances_Status. Kept equal to OrchestrationRuntimeStatusExtensions.IsTerminal.
    private const string NotTerminal = "(Status < 1 OR Status = 2 OR Status > 5)";

    /// <inheritdoc />
    public Task<OrchestrationMetadata?> ReadInstanceAsync(string instanceId, bool includePayloads, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        return ReadAsync(
            async (connection, ct) =>
            {
                using var command = connection.CreateCommand();
                command.CommandText =
                    $"SELECT {(includePayloads ? SqliteRecords.InstanceColumns : SqliteRecords.InstanceColumnsWithoutPayloads)} FROM Instances WHERE InstanceId = $id";
                command.Parameters.AddWithValue("$id", instanceId);
                using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                return reader.Read() ? SqliteRecords.ReadInstance(reader) : null;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<HistoryEvent>> ReadHistoryAsync(string instanceId, string? executionId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        return ReadAsync<IReadOnlyList<HistoryEvent>>(
            async (connection, ct) =>
            {
                using var command = connection.CreateCommand();

                // One statement, so the current execution id and its history come from the same snapshot.
                command.CommandText = """
                    SELECT Data FROM History
                    WHERE InstanceId = $id AND ExecutionId = COALESCE($execution, (SELECT ExecutionId FROM Instances WHERE InstanceId = $id))
                    ORDER BY SequenceNumber
                    """;
                command.Parameters.AddWithValue("$id", instanceId);
                command.Parameters.AddWithValue("$execution", SqliteRecords.OrNull(executionId));
                using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                var events = new List<HistoryEvent>();
                while (reader.Read())
                {
                    events.Add(HistoryEvent.Parser.ParseFrom(SqliteRecords.GetBytes(reader, 0)));
                }

                return events;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Keyset paging over (CreatedAt, InstanceId), either way; the name filter compares like
    /// <see cref="StringComparison.OrdinalIgnoreCase"/>. Instance ids are ordered by their UTF-8 bytes, which equals
    /// .NET's ordinal order except between characters U+E000-U+FFFF and those beyond U+FFFF.
    /// </remarks>
    public Task<InstancePage> QueryInstancesAsync(OrchestrationQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        return ReadAsync(
            async (connection, ct) =>
            {
                using var command = connection.CreateCommand();
                var sql = new StringBuilder("SELECT ")
                    .Append(query.IncludePayloads ? SqliteRecords.InstanceColumns : SqliteRecords.InstanceColumnsWithoutPayloads)
                    .Append(" FROM Instances WHERE 1 = 1");
                // Newest first walks IX_Instances_CreatedAt backwards and stops at the page's end; with the status
                // index instead (the planner's pick, having no statistics) a common status sorts every matching row.
                AddStatusFilter(command, sql, query.Statuses, useIndex: !query.NewestFirst);
                AddCreatedFilter(command, sql, query.CreatedFrom, query.CreatedTo);
                if (query.InstanceIdPrefix is { } prefix)
                {
                    // The range term lets SQLite seek; the substr term is the exact test.
                    sql.Append(" AND InstanceId >= $prefix AND substr(InstanceId, 1, length($prefix)) = $prefix");
                    command.Parameters.AddWithValue("$prefix", prefix);
                }

                if (query.Name is { } name)
                {
                    sql.Append(CultureInfo.InvariantCulture, $" AND Name = $name COLLATE {SqliteConnections.OrdinalIgnoreCase}");
                    command.Parameters.AddWithValue("$name", name);
                }

                var tag = 0;
                foreach (var (key, value) in query.Tags ?? new Dictionary<string, string>())
                {
                    if (IsPlainJsonText(value))
                    {
                        // The value appears in the JSON text as it is: a substring test rules out most rows before
                        // json_each parses any (the tags column has no index).
                        sql.Append(CultureInfo.InvariantCulture, $" AND instr(Tags, $tagText{tag}) > 0");
                        command.Parameters.AddWithValue(string.Create(CultureInfo.InvariantCulture, $"$tagText{tag}"), "\"" + value + "\"");
                    }

                    sql.Append(CultureInfo.InvariantCulture, $" AND EXISTS (SELECT 1 FROM json_each(Instances.Tags) WHERE key = $tagKey{tag} AND value = $tagValue{tag})");
                    command.Parameters.AddWithValue(string.Create(CultureInfo.InvariantCulture, $"$tagKey{tag}"), key);
                    command.Parameters.AddWithValue(string.Create(CultureInfo.InvariantCulture, $"$tagValue{tag}"), value);
                    tag++;
                }

                if (query.ContinuationToken is { } token)
                {
                    var after = PageToken.Parse(token);
                    sql.Append(query.NewestFirst ? " AND (CreatedAt, InstanceId) < ($afterCreated, $afterId)" : " AND (CreatedAt, InstanceId) > ($afterCreated, $afterId)");
                    command.Parameters.AddWithValue("$afterCreated", SqliteRecords.ToTicks(after.CreatedAt));
                    command.Parameters.AddWithValue("$afterId", after.InstanceId);
                }

                sql.Append(query.NewestFirst ? " ORDER BY CreatedAt DESC, InstanceId DESC LIMIT $limit" : " ORDER BY CreatedAt, InstanceId LIMIT $limit");
                command.Parameters.AddWithValue("$limit", query.PageSize + 1);
                command.CommandText = sql.ToString();
                var rows = new List<OrchestrationMetadata>(Math.Min(query.PageSize + 1, 128));
                using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
                {
                    while (reader.Read())
                    {
                        rows.Add(SqliteRecords.ReadInstance(reader));
                    }
                }

                string? next = null;
                if (rows.Count > query.PageSize)
                {
                    rows.RemoveAt(rows.Count - 1);
                    next = new PageToken(rows[^1].CreatedAt, rows[^1].InstanceId).ToString();
                }

                return new InstancePage(rows, next);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> FindPurgeableAsync(PurgeFilter filter, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var statuses = filter.Statuses is { Count: > 0 } wanted
            ? SqliteRecords.TerminalStatuses.Where(wanted.Contains).ToArray()
            : SqliteRecords.TerminalStatuses;
        if (limit <= 0 || statuses.Length == 0)
        {
            return Task.FromResult<IReadOnlyList<string>>([]);
        }

        return ReadAsync<IReadOnlyList<string>>(
            async (connection, ct) =>
            {
                using var command = connection.CreateCommand();
                var sql = new StringBuilder("SELECT InstanceId FROM Instances WHERE 1 = 1");
                AddStatusFilter(command, sql, statuses);
                AddCreatedFilter(command, sql, filter.CreatedFrom, filter.CreatedTo);
                sql.Append(" ORDER BY CreatedAt, InstanceId LIMIT $limit");
                command.Parameters.AddWithValue("$limit", limit);
                command.CommandText = sql.ToString();
                var ids = new List<string>();
                using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                while (reader.Read())
                {
                    ids.Add(reader.GetString(0));
                }

                return ids;
            },
            cancellationToken);
    }

    private static void AddStatusFilter(SqliteCommand command, StringBuilder sql, IReadOnlyCollection<OrchestrationRuntimeStatus>? statuses, bool useIndex = true)
    {
        if (statuses is null || statuses.Count == 0)
        {
            return;
        }

        // A unary + keeps SQLite from using IX_Instances_Status for the term.
        sql.Append(useIndex ? " AND Status IN (" : " AND +Status IN (");
        var i = 0;
        foreach (var status in statuses.Distinct())
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"$status{i}");
            sql.Append(i++ == 0 ? string.Empty : ", ").Append(name);
            command.Parameters.AddWithValue(name, (int)status);
        }

        sql.Append(')');
    }

    // Characters System.Text.Json writes unescaped in a string, so the value's JSON text is the value in quotes.
    private static bool IsPlainJsonText(string value) =>
        value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');

    private static void AddCreatedFilter(SqliteCommand command, StringBuilder sql, DateTime? from, DateTime? to)
    {
        if (from is { } f)
        {
            sql.Append(" AND CreatedAt >= $createdFrom");
            command.Parameters.AddWithValue("$createdFrom", SqliteRecords.ToTicks(f));
        }

        if (to is { } t)
        {
            sql.Append(" AND CreatedAt < $createdTo");
            command.Parameters.AddWithValue("$createdTo", SqliteRecords.ToTicks(t));
        }
    }

    private static async Task<RecoveredState> LoadRecoveredStateAsync(SqliteReadConnectionPool readers, CancellationToken cancellationToken)
    {
        var connection = readers.Rent();
        try
        {
            // One read transaction: the five reads see the same snapshot.
            using var transaction = connection.BeginTransaction(deferred: true);
            var instances = await ReadAllAsync(
                transaction, $"SELECT {SqliteRecords.InstanceColumns} FROM Instances WHERE {NotTerminal}", SqliteRecords.ReadInstance, cancellationToken).ConfigureAwait(false);
            var messages = await ReadAllAsync(
                transaction, "SELECT Sequence, InstanceId, VisibleAt, Data FROM Messages ORDER BY Sequence", SqliteRecords.ReadMessage, cancellationToken).ConfigureAwait(false);
            var activities = await ReadAllAsync(
                transaction, "SELECT Sequence, Data FROM Activities ORDER BY Sequence", SqliteRecords.ReadActivity, cancellationToken).ConfigureAwait(false);
            var entities = await ReadAllAsync(
                transaction, "SELECT InstanceId, State, LastModifiedAt, LockedBy, CriticalSectionId, LockSet FROM Entities", SqliteRecords.ReadEntity, cancellationToken).ConfigureAwait(false);
            var maxSequence = Math.Max(messages.Count == 0 ? 0 : messages[^1].Sequence, activities.Count == 0 ? 0 : activities[^1].Sequence);
            return new RecoveredState(instances, messages, activities, entities, maxSequence);
        }
        finally
        {
            readers.Return(connection);
        }

        static async Task<List<T>> ReadAllAsync<T>(SqliteTransaction transaction, string sql, Func<SqliteDataReader, T> read, CancellationToken ct)
        {
            using var command = transaction.Connection!.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var rows = new List<T>();
            while (reader.Read())
            {
                rows.Add(read(reader));
            }

            return rows;
        }
    }

    private async Task<T> ReadAsync<T>(Func<SqliteConnection, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var readers = Volatile.Read(ref _readers) ?? throw NotOpen();
        cancellationToken.ThrowIfCancellationRequested();
        var connection = readers.Rent();
        try
        {
            return await read(connection, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            readers.Return(connection);
        }
    }
}
