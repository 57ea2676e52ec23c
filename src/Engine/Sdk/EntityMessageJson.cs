using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using P = Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Sdk;

/// <summary>
/// A request to an entity in DurableTask.Core's legacy encoding (its internal <c>RequestMessage</c>): an operation
/// call or signal, or (with <see cref="LockSet"/>) a critical-section lock request.
/// </summary>
internal sealed record EntityRequestMessage
{
    public string? Operation { get; init; }

    public bool IsSignal { get; init; }

    public string? Input { get; init; }

    public required string Id { get; init; }

    public string? ParentInstanceId { get; init; }

    public string? ParentExecutionId { get; init; }

    public DateTime? ScheduledTime { get; init; }

    /// <summary>The lock set as entity instance ids (<c>@name@key</c>), sorted; null unless a lock request.</summary>
    public IReadOnlyList<string>? LockSet { get; init; }

    public int Position { get; init; }
}

/// <summary>An entity's answer in the legacy encoding (Core's internal <c>ResponseMessage</c>).</summary>
internal sealed record EntityResponseMessage(string? Result, string? ErrorType, P.TaskFailureDetails? FailureDetails)
{
    /// <summary>The result Core's entity context expects for a granted lock.</summary>
    public const string LockAcquisitionCompleted = "Lock Acquisition Completed";

    public bool IsFailure => ErrorType is not null || FailureDetails is not null;
}

/// <summary>
/// Reads and writes the JSON of DurableTask.Core's entity messages (<c>RequestMessage</c>, <c>ReleaseMessage</c>,
/// <c>ResponseMessage</c>), whose classes are internal to Core. The property names are Core's data-member names;
/// Core writes them with Newtonsoft.Json and reads responses with <c>JsonConvert.PopulateObject</c>.
/// </summary>
internal static class EntityMessageJson
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string WriteRequest(EntityRequestMessage message)
    {
        return Write(message, static (w, m) =>
        {
            if (m.LockSet is null)
            {
                w.WriteString("op", m.Operation);
                if (m.IsSignal)
                {
                    w.WriteBoolean("signal", true);
                }

                if (m.Input is not null)
                {
                    w.WriteString("input", m.Input);
                }
            }
            else
            {
                w.WriteNull("op");
            }

            w.WriteString("id", m.Id);
            WriteOptional(w, "parent", m.ParentInstanceId);
            WriteOptional(w, "parentExecution", m.ParentExecutionId);
            if (m.ScheduledTime is { } due)
            {
                w.WriteString("due", due.ToString("o", CultureInfo.InvariantCulture));
            }

            if (m.LockSet is { } lockSet)
            {
                w.WriteStartArray("lockset");
                foreach (var entity in lockSet)
                {
                    var (name, key) = SplitEntityId(entity);
                    w.WriteStartObject();
                    w.WriteString("name", name);
                    w.WriteString("key", key);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                if (m.Position != 0)
                {
                    w.WriteNumber("pos", m.Position);
                }
            }
        });
    }

    public static EntityRequestMessage ReadRequest(string json)
    {
        string? operation = null, input = null, id = null, parent = null, parentExecution = null;
        var signal = false;
        DateTime? due = null;
        List<string>? lockSet = null;
        var position = 0;
        var reader = Reader(json);
        ExpectStartObject(ref reader, "request");
        while (NextProperty(ref reader, out var name))
        {
            switch (name)
            {
                case "op": operation = ReadString(ref reader); break;
                case "signal": signal = reader.TokenType == JsonTokenType.True; break;
                case "input": input = ReadString(ref reader); break;
                case "id": id = ReadString(ref reader); break;
                case "parent": parent = ReadString(ref reader); break;
                case "parentExecution": parentExecution = ReadString(ref reader); break;
                case "due": due = reader.TokenType == JsonTokenType.Null ? null : reader.GetDateTimeOffset().UtcDateTime; break;
                case "pos": position = reader.GetInt32(); break;
                case "lockset":
                    if (reader.TokenType == JsonTokenType.Null)
                    {
                        break;
                    }

                    lockSet = [];
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        string? entityName = null, key = null;
                        while (NextProperty(ref reader, out var field))
                        {
                            if (field == "name")
                            {
                                entityName = ReadString(ref reader);
                            }
                            else if (field == "key")
                            {
                                key = ReadString(ref reader);
                            }
                            else
                            {
                                reader.Skip();
                            }
                        }

                        if (entityName is null || key is null)
                        {
                            throw new FormatException($"An entity lock request names an entity without a name or key: {json}");
                        }

                        lockSet.Add($"@{entityName}@{key}");
                    }

                    break;
                default: reader.Skip(); break;
            }
        }

        if (id is null)
        {
            throw new FormatException($"An entity request message has no id: {json}");
        }

        return new EntityRequestMessage
        {
            Operation = operation,
            IsSignal = signal,
            Input = input,
            Id = id,
            ParentInstanceId = parent,
            ParentExecutionId = parentExecution,
            ScheduledTime = due,
            LockSet = lockSet,
            Position = position,
        };
    }

    public static string WriteRelease(string? parentInstanceId, string criticalSectionId)
    {
        return Write((parentInstanceId, criticalSectionId), static (w, m) =>
        {
            WriteOptional(w, "parent", m.parentInstanceId);
            w.WriteString("id", m.criticalSectionId);
        });
    }

    public static (string? ParentInstanceId, string CriticalSectionId) ReadRelease(string json)
    {
        string? parent = null, id = null;
        var reader = Reader(json);
        ExpectStartObject(ref reader, "release");
        while (NextProperty(ref reader, out var name))
        {
            switch (name)
            {
                case "parent": parent = ReadString(ref reader); break;
                case "id": id = ReadString(ref reader); break;
                default: reader.Skip(); break;
            }
        }

        return (parent, id ?? throw new FormatException($"An entity release message has no id: {json}"));
    }

    public static string WriteResponse(EntityResponseMessage message)
    {
        return Write(message, static (w, m) =>
        {
            w.WriteString("result", m.Result);
            if (m.ErrorType is not null)
            {
                w.WriteString("exceptionType", m.ErrorType);
            }

            if (m.FailureDetails is { } failure)
            {
                w.WritePropertyName("failureDetails");
                WriteFailure(w, failure);
            }
        });
    }

    public static EntityResponseMessage ReadResponse(string json)
    {
        string? result = null, errorType = null;
        P.TaskFailureDetails? failure = null;
        var reader = Reader(json);
        ExpectStartObject(ref reader, "response");
        while (NextProperty(ref reader, out var name))
        {
            switch (name)
            {
                case "result": result = ReadString(ref reader); break;
                case "exceptionType": errorType = ReadString(ref reader); break;
                case "failureDetails": failure = ReadFailure(ref reader); break;
                default: reader.Skip(); break;
            }
        }

        return new EntityResponseMessage(result, errorType, failure);
    }

    /// <summary>Splits <c>@name@key</c>; the key may itself contain <c>@</c>.</summary>
    public static (string Name, string Key) SplitEntityId(string instanceId)
    {
        var second = instanceId.Length > 1 && instanceId[0] == '@' ? instanceId.IndexOf('@', 1) : -1;
        if (second < 0)
        {
            throw new FormatException($"'{instanceId}' is not an entity instance id (@name@key).");
        }

        return (instanceId[1..second], instanceId[(second + 1)..]);
    }

    // Core's FailureDetails as Newtonsoft.Json writes it (its constructor parameters, matched case-insensitively).
    private static void WriteFailure(Utf8JsonWriter w, P.TaskFailureDetails failure)
    {
        w.WriteStartObject();
        w.WriteString("ErrorType", failure.ErrorType);
        w.WriteString("ErrorMessage", failure.ErrorMessage);
        w.WriteString("StackTrace", failure.StackTrace);
        if (failure.InnerFailure is { } inner)
        {
            w.WritePropertyName("InnerFailure");
            WriteFailure(w, inner);
        }
        else
        {
            w.WriteNull("InnerFailure");
        }

        w.WriteBoolean("IsNonRetriable", failure.IsNonRetriable);
        if (failure.Properties.Count > 0)
        {
            w.WriteStartObject("Properties");
            foreach (var (key, value) in failure.Properties)
            {
                w.WritePropertyName(key);
                w.WriteRawValue(Google.Protobuf.JsonFormatter.Default.Format(value));
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static P.TaskFailureDetails? ReadFailure(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        var failure = new P.TaskFailureDetails();
        while (NextProperty(ref reader, out var name))
        {
            switch (name.ToUpperInvariant())
            {
                case "ERRORTYPE": failure.ErrorType = ReadString(ref reader) ?? string.Empty; break;
                case "ERRORMESSAGE": failure.ErrorMessage = ReadString(ref reader) ?? string.Empty; break;
                case "STACKTRACE": failure.StackTrace = ReadString(ref reader); break;
                case "INNERFAILURE": failure.InnerFailure = ReadFailure(ref reader); break;
                case "ISNONRETRIABLE": failure.IsNonRetriable = reader.TokenType == JsonTokenType.True; break;
                case "PROPERTIES":
                    if (reader.TokenType == JsonTokenType.Null)
                    {
                        break;
                    }

                    using (var properties = JsonDocument.ParseValue(ref reader))
                    {
                        foreach (var property in properties.RootElement.EnumerateObject())
                        {
                            failure.Properties[property.Name] = Value.Parser.ParseJson(property.Value.GetRawText());
                        }
                    }

                    break;
                default: reader.Skip(); break;
            }
        }

        return failure;
    }

    private static string Write<T>(T message, Action<Utf8JsonWriter, T> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            body(writer, message);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteOptional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static Utf8JsonReader Reader(string json) => new(Encoding.UTF8.GetBytes(json));

    private static void ExpectStartObject(ref Utf8JsonReader reader, string what)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new FormatException($"An entity {what} message is not a JSON object.");
        }
    }

    /// <summary>Moves to the next property of the current object and onto its value; false at the object's end.</summary>
    private static bool NextProperty(ref Utf8JsonReader reader, out string name)
    {
        if (!reader.Read() || reader.TokenType == JsonTokenType.EndObject)
        {
            name = string.Empty;
            return false;
        }

        name = reader.GetString()!;
        reader.Read();
        return true;
    }

    private static string? ReadString(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.Null => null,
        JsonTokenType.String => reader.GetString(),

        // Newtonsoft.Json would have turned a number or a literal into its text; keep that leniency.
        JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False => Encoding.UTF8.GetString(reader.ValueSpan),
        _ => throw new FormatException($"Expected a string in an entity message, found {reader.TokenType}."),
    };
}
