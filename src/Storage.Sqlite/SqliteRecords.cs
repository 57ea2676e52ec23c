using System.Text.Json;
using Google.Protobuf;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Storage.Sqlite;

/// <summary>Conversions between store records and SQLite column values.</summary>
internal static class SqliteRecords
{
    /// <summary>The columns of an instance row, in the order <see cref="ReadInstance"/> reads them.</summary>
    public const string InstanceColumns =
        "InstanceId, Name, Version, ExecutionId, Status, CreatedAt, LastUpdatedAt, CompletedAt, ScheduledStartAt, "
        + "Input, Output, CustomStatus, FailureDetails, ParentInstanceId, Tags, TraceParent";

    /// <summary>The instance columns with the payloads read as NULL, so large inputs and outputs stay on disk.</summary>
    public const string InstanceColumnsWithoutPayloads =
        "InstanceId, Name, Version, ExecutionId, Status, CreatedAt, LastUpdatedAt, CompletedAt, ScheduledStartAt, "
        + "NULL, NULL, NULL, FailureDetails, ParentInstanceId, Tags, TraceParent";

    /// <summary>The statuses a terminal instance has, as stored.</summary>
    public static readonly OrchestrationRuntimeStatus[] TerminalStatuses =
        [.. Enum.GetValues<OrchestrationRuntimeStatus>().Where(s => s.IsTerminal())];

    /// <summary>
    /// A time as UTC ticks. Local times are converted; unspecified ones are taken as UTC, which is what the
    /// store always hands over.
    /// </summary>
    public static long ToTicks(DateTime value) => value.Kind == DateTimeKind.Local ? value.ToUniversalTime().Ticks : value.Ticks;

    /// <summary>A nullable time as UTC ticks, or DBNull.</summary>
    public static object ToTicksOrNull(DateTime? value) => value is { } v ? ToTicks(v) : DBNull.Value;

    /// <summary>UTC ticks back to a UTC time.</summary>
    public static DateTime FromTicks(long ticks) => new(ticks, DateTimeKind.Utc);

    /// <summary>A value or DBNull.</summary>
    public static object OrNull(object? value) => value ?? DBNull.Value;

    /// <summary>Tags as a JSON object; null when there are none.</summary>
    public static string? EncodeTags(IReadOnlyDictionary<string, string>? tags) =>
        tags is null || tags.Count == 0
            ? null
            : JsonSerializer.Serialize(tags as Dictionary<string, string> ?? new Dictionary<string, string>(tags), SqliteJsonContext.Default.DictionaryStringString);

    /// <summary>A lock set as a JSON array; null when there is none.</summary>
    public static string? EncodeLockSet(IReadOnlyList<string>? lockSet) =>
        lockSet is null ? null : JsonSerializer.Serialize(lockSet as string[] ?? [.. lockSet], SqliteJsonContext.Default.StringArray);

    /// <summary>Reads an instance row selected with <see cref="InstanceColumns"/> or <see cref="InstanceColumnsWithoutPayloads"/>.</summary>
    public static OrchestrationMetadata ReadInstance(SqliteDataReader reader)
    {
        var instance = new OrchestrationMetadata
        {
            InstanceId = reader.GetString(0),
            Name = reader.GetString(1),
            Version = GetStringOrNull(reader, 2),
            ExecutionId = reader.GetString(3),
            Status = (OrchestrationRuntimeStatus)reader.GetInt32(4),
            CreatedAt = FromTicks(reader.GetInt64(5)),
            LastUpdatedAt = FromTicks(reader.GetInt64(6)),
            CompletedAt = reader.IsDBNull(7) ? null : FromTicks(reader.GetInt64(7)),
            ScheduledStartAt = reader.IsDBNull(8) ? null : FromTicks(reader.GetInt64(8)),
            SerializedInput = GetStringOrNull(reader, 9),
            SerializedOutput = GetStringOrNull(reader, 10),
            SerializedCustomStatus = GetStringOrNull(reader, 11),
            FailureDetails = reader.IsDBNull(12) ? null : FailureDetails.FromProto(TaskFailureDetails.Parser.ParseFrom(GetBytes(reader, 12))),
            ParentInstanceId = GetStringOrNull(reader, 13),
            TraceParent = GetStringOrNull(reader, 15),
        };
        if (GetStringOrNull(reader, 14) is { } tags)
        {
            instance = instance with { Tags = JsonSerializer.Deserialize(tags, SqliteJsonContext.Default.DictionaryStringString) ?? [] };
        }

        return instance;
    }

    /// <summary>Reads a message row: Sequence, InstanceId, VisibleAt, Data.</summary>
    public static StoredMessage ReadMessage(SqliteDataReader reader) => new(
        reader.GetInt64(0),
        reader.GetString(1),
        reader.IsDBNull(2) ? null : FromTicks(reader.GetInt64(2)),
        HistoryEvent.Parser.ParseFrom(GetBytes(reader, 3)));

    /// <summary>Reads an activity row: Sequence, Data.</summary>
    public static StoredActivity ReadActivity(SqliteDataReader reader) => new(
        reader.GetInt64(0), ActivityRequest.Parser.ParseFrom(GetBytes(reader, 1)));

    /// <summary>Reads an entity row: InstanceId, State, LastModifiedAt, LockedBy, CriticalSectionId, LockSet.</summary>
    public static EntityRecord ReadEntity(SqliteDataReader reader) => new(
        reader.GetString(0),
        GetStringOrNull(reader, 1),
        FromTicks(reader.GetInt64(2)),
        GetStringOrNull(reader, 3),
        GetStringOrNull(reader, 4),
        GetStringOrNull(reader, 5) is { } lockSet ? JsonSerializer.Deserialize(lockSet, SqliteJsonContext.Default.StringArray) : null);

    /// <summary>Reads a blob column.</summary>
    public static byte[] GetBytes(SqliteDataReader reader, int ordinal) => (byte[])reader.GetValue(ordinal);

    private static string? GetStringOrNull(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    /// <summary>Protobuf bytes of a message.</summary>
    public static byte[] Encode(IMessage message) => message.ToByteArray();
}
