using System.Text.Json;
using System.Text.Json.Serialization;
using KataWorkflows.Engine.Serialization;

namespace KataWorkflows.Cli.Commands;

/// <summary>Reads JSON configurations from a file or stdin (<c>-</c>), strictly: unknown fields are errors.</summary>
public static class JsonInput
{
    private static readonly JsonSerializerOptions Strict = new(DataConverter.Default.Options)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowTrailingCommas = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
    };

    /// <summary>The text of a file, or of stdin for <c>-</c>.</summary>
    /// <exception cref="CliException">The file cannot be read (a usage error naming it).</exception>
    public static string ReadText(string path, string option, TextReader stdin)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(stdin);
        if (path == "-")
        {
            return stdin.ReadToEnd();
        }

        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw CliException.Usage($"{option}: cannot read '{path}': {ex.Message}");
        }
    }

    /// <summary>Deserializes <paramref name="json"/> as <typeparamref name="T"/>, naming the source and the bad field on error.</summary>
    /// <exception cref="CliException">A usage error.</exception>
    public static T Parse<T>(string json, string source)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonSerializer.Deserialize<T>(json, Strict) ?? throw CliException.Usage($"{source}: expected a JSON {typeof(T).Name}, got null");
        }
        catch (JsonException ex)
        {
            var where = ex.Path is { Length: > 0 } path ? $" at {path}" : string.Empty;
            throw CliException.Usage($"{source}: not a valid {typeof(T).Name}{where}: {ex.Message}");
        }
    }

    /// <summary>
    /// The fields a JSON object gives a non-null value, as dotted camelCase paths of objects within it
    /// (<c>hypervisorType</c>, <c>networkConfig.interworkingModel</c>); matched as the deserializer matches them,
    /// case-insensitively. Empty for text that is not an object.
    /// </summary>
    public static IReadOnlySet<string> FieldsGiven(string json)
    {
        var fields = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            Collect(document.RootElement, string.Empty, fields);
        }
        catch (JsonException)
        {
            // Parse<T> reports the error.
        }

        return fields;

        static void Collect(JsonElement element, string prefix, HashSet<string> fields)
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                return;
            }

            foreach (var property in element.EnumerateObject())
            {
                if (property.Value.ValueKind != JsonValueKind.Null)
                {
                    fields.Add(prefix + property.Name);
                    Collect(property.Value, prefix + property.Name + ".", fields);
                }
            }
        }
    }

    /// <summary>Serializes a value as the host expects it (camelCase, enums as strings).</summary>
    public static string Serialize(object value) => DataConverter.Default.Serialize(value) ?? "null";
}
