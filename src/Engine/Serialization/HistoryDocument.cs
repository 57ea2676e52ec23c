using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Serialization;

/// <summary>
/// A run's history as a JSON document: the instance's identity and every event of one execution, each event
/// in the protocol's canonical JSON form. This is what <c>kwf wf export</c> writes and <c>kwf wf replay</c> reads,
/// and what replay tests check in.
/// </summary>
public sealed record HistoryDocument
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(false));
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    /// <summary>The format version written into documents.</summary>
    public const int CurrentFormat = 1;

    /// <summary>The instance id.</summary>
    public required string InstanceId { get; init; }

    /// <summary>The orchestrator name.</summary>
    public required string Name { get; init; }

    /// <summary>The execution the events belong to.</summary>
    public required string ExecutionId { get; init; }

    /// <summary>The status when exported.</summary>
    public string? Status { get; init; }

    /// <summary>The events, in order.</summary>
    public required IReadOnlyList<HistoryEvent> Events { get; init; }

    /// <summary>
    /// The export of a run: <c>kwf wf export</c> and the web console's download both make it here, so they write the
    /// same document. The execution id is the instance's, or, when the caller has none, the one its ExecutionStarted
    /// event names.
    /// </summary>
    /// <param name="instanceId">The instance id.</param>
    /// <param name="name">The orchestrator name.</param>
    /// <param name="executionId">The current execution's id, if the caller knows it.</param>
    /// <param name="status">The status name when exported (<c>Completed</c>, <c>Failed</c>...).</param>
    /// <param name="events">The execution's history, in order.</param>
    /// <exception cref="InvalidOperationException">No execution id is known and no event names one.</exception>
    public static HistoryDocument Export(string instanceId, string name, string? executionId, string? status, IReadOnlyList<HistoryEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var execution = executionId is { Length: > 0 }
            ? executionId
            : events.FirstOrDefault(e => e.ExecutionStarted is not null)?.ExecutionStarted.OrchestrationInstance?.ExecutionId
                ?? throw new InvalidOperationException($"run {instanceId} has no execution id");
        return new HistoryDocument { InstanceId = instanceId, Name = name, ExecutionId = execution, Status = status, Events = events };
    }

    /// <summary>Writes the document as indented JSON.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("format", CurrentFormat);
            writer.WriteString("instanceId", InstanceId);
            writer.WriteString("name", Name);
            writer.WriteString("executionId", ExecutionId);
            if (Status is not null)
            {
                writer.WriteString("status", Status);
            }

            writer.WriteStartArray("events");
            foreach (var e in Events)
            {
                using var element = JsonDocument.Parse(Formatter.Format(e));
                element.RootElement.WriteTo(writer);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>Reads a document.</summary>
    /// <exception cref="FormatException">The text is not a history document; the message says what is wrong.</exception>
    public static HistoryDocument Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("A history document is a JSON object.");
            }

            if (root.TryGetProperty("format", out var format) && format.GetInt32() > CurrentFormat)
            {
                throw new FormatException($"History document format {format.GetInt32()} is newer than this tool reads ({CurrentFormat}).");
            }

            if (!root.TryGetProperty("events", out var events) || events.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException("The history document has no \"events\" array.");
            }

            var list = new List<HistoryEvent>();
            var index = 0;
            foreach (var e in events.EnumerateArray())
            {
                try
                {
                    list.Add(Parser.Parse<HistoryEvent>(e.GetRawText()));
                }
                catch (InvalidProtocolBufferException ex)
                {
                    throw new FormatException($"Event #{index} is not a history event: {ex.Message}", ex);
                }

                index++;
            }

            return new HistoryDocument
            {
                InstanceId = Text(root, "instanceId"),
                Name = Text(root, "name"),
                ExecutionId = Text(root, "executionId"),
                Status = root.TryGetProperty("status", out var s) ? s.GetString() : null,
                Events = list,
            };
        }
        catch (JsonException ex)
        {
            throw new FormatException($"The history document is not valid JSON: {ex.Message}", ex);
        }

        static string Text(JsonElement root, string name) =>
            root.TryGetProperty(name, out var value) && value.GetString() is { Length: > 0 } text
                ? text
                : throw new FormatException($"The history document has no \"{name}\".");
    }
}
