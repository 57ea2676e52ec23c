using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataWorkflows.Cli.Output;

/// <summary>JSON helpers for output: indented documents for <c>--json</c>, and JSON shown as tables or short text.</summary>
public static class JsonText
{
    private static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Writes a node as indented JSON with a final newline.</summary>
    public static string Format(JsonNode? node) => (node?.ToJsonString(Indented) ?? "null") + "\n";

    /// <summary>Parses JSON text from the host; text that is not JSON is kept as a JSON string.</summary>
    public static JsonNode? ParseOrString(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return JsonValue.Create(text);
        }
    }

    /// <summary>
    /// Shows JSON as a person reads it: an array of objects as a table whose columns are the objects' keys, an object
    /// as a KEY VALUE table of its flattened leaves (<c>a.b[0].c</c>), anything else as its text.
    /// </summary>
    public static string Human(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return "-\n";
            case JsonArray array when array.Count > 0 && array.All(e => e is JsonObject):
            {
                var columns = array.Cast<JsonObject>().SelectMany(o => o.Select(p => p.Key)).Distinct(StringComparer.Ordinal).ToArray();
                var table = new Table(columns);
                foreach (JsonObject item in array.Cast<JsonObject>())
                {
                    table.Add(columns.Select(c => item.TryGetPropertyValue(c, out var v) ? Scalar(v) : null).ToArray());
                }

                return table.ToString();
            }

            case JsonArray { Count: 0 }:
                return "(none)\n";
            case JsonObject or JsonArray:
            {
                var table = new Table("key", "value");
                foreach (var (key, value) in Flatten(node, string.Empty))
                {
                    table.Add(key, value);
                }

                return table.ToString();
            }

            default:
                return Scalar(node) + "\n";
        }
    }

    /// <summary>One JSON value as short text: strings unquoted, containers as compact JSON.</summary>
    public static string Scalar(JsonNode? node) => node switch
    {
        null => "-",
        JsonValue value when value.TryGetValue<string>(out var s) => s,
        JsonValue value => value.ToJsonString(),
        _ => node.ToJsonString(),
    };

    /// <summary>Cuts text to at most <paramref name="max"/> characters, marking the cut.</summary>
    public static string Shorten(string? text, int max = 80)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        text = text.ReplaceLineEndings(" ");
        return text.Length <= max ? text : string.Concat(text.AsSpan(0, max - 1), "…");
    }

    /// <summary>A duration as a person reads it: <c>850 ms</c>, <c>1.25 s</c>, <c>3m05s</c>.</summary>
    public static string Duration(TimeSpan duration)
    {
        if (duration < TimeSpan.Zero)
        {
            duration = TimeSpan.Zero;
        }

        return duration.TotalMilliseconds < 1000
            ? duration.TotalMilliseconds.ToString("0.#", CultureInfo.InvariantCulture) + " ms"
            : duration.TotalSeconds < 60
                ? duration.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s"
                : $"{(int)duration.TotalMinutes}m{duration.Seconds:00}s";
    }

    private static IEnumerable<(string Key, string Value)> Flatten(JsonNode? node, string prefix)
    {
        switch (node)
        {
            case JsonObject obj when obj.Count > 0:
                foreach (var (key, value) in obj)
                {
                    foreach (var leaf in Flatten(value, prefix.Length == 0 ? key : $"{prefix}.{key}"))
                    {
                        yield return leaf;
                    }
                }

                break;
            case JsonArray array when array.Count > 0:
                for (var i = 0; i < array.Count; i++)
                {
                    foreach (var leaf in Flatten(array[i], string.Create(CultureInfo.InvariantCulture, $"{prefix}[{i}]")))
                    {
                        yield return leaf;
                    }
                }

                break;
            default:
                yield return (prefix.Length == 0 ? "value" : prefix, node is JsonObject or JsonArray ? node.ToJsonString() : Scalar(node));
                break;
        }
    }

    /// <summary>Builds a JSON object from pairs, skipping null values.</summary>
    public static JsonObject Obj(params (string Key, JsonNode? Value)[] pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var obj = new JsonObject();
        foreach (var (key, value) in pairs)
        {
            if (value is not null)
            {
                obj[key] = value;
            }
        }

        return obj;
    }
}
