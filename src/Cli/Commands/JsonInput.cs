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

    /// <summary>Serializes a value as the host expects it (camelCase, enums as strings).</summary>
    public static string Serialize(object value) => DataConverter.Default.Serialize(value) ?? "null";
}
