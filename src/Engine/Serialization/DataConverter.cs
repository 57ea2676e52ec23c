using System.Text.Json;
using System.Text.Json.Serialization;

namespace KataWorkflows.Engine.Serialization;

/// <summary>
/// Turns inputs, outputs, event payloads and entity state into the JSON text stored in history, and back.
/// Every Durable Task SDK stores payloads as JSON text; so does this engine.
/// </summary>
public sealed class DataConverter
{
    /// <summary>The converter used when none is configured: camelCase web defaults, enums as strings.</summary>
    public static DataConverter Default { get; } = new(CreateDefaultOptions());

    private readonly JsonSerializerOptions _options;

    /// <summary>Creates a converter with the given serializer options.</summary>
    public DataConverter(JsonSerializerOptions options)
    {
        _options = options;
    }

    /// <summary>The serializer options.</summary>
    public JsonSerializerOptions Options => _options;

    /// <summary>Serializes a value; null stays null.</summary>
    /// <exception cref="PayloadSerializationException">The value cannot be serialized.</exception>
    public string? Serialize(object? value)
    {
        if (value is null)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Serialize(value, value.GetType(), _options);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
        {
            throw new PayloadSerializationException(
                $"A value of type {value.GetType().FullName} cannot be serialized to JSON: {ex.Message}", ex);
        }
    }

    /// <summary>Deserializes JSON text into the given type; null or empty text gives the type's default.</summary>
    /// <exception cref="PayloadSerializationException">The text is not valid JSON for the type.</exception>
    public object? Deserialize(string? json, Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (string.IsNullOrEmpty(json))
        {
            return type.IsValueType ? Activator.CreateInstance(type) : null;
        }

        try
        {
            return JsonSerializer.Deserialize(json, type, _options);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException)
        {
            throw new PayloadSerializationException(
                $"JSON text cannot be read as {type.FullName}: {ex.Message}", ex);
        }
    }

    /// <summary>Deserializes JSON text into <typeparamref name="T"/>.</summary>
    public T? Deserialize<T>(string? json) => (T?)Deserialize(json, typeof(T));

    private static JsonSerializerOptions CreateDefaultOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };
        options.Converters.Add(new JsonStringEnumConverter());
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}

/// <summary>A payload could not be written to or read from JSON.</summary>
public sealed class PayloadSerializationException : DurableTaskException, INonRetriable
{
    /// <summary>Creates the exception.</summary>
    public PayloadSerializationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
