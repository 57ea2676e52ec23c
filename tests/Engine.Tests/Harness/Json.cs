using DataConverter = KataWorkflows.Engine.Serialization.DataConverter;
using KataWorkflows.Engine.Serialization;

namespace KataWorkflows.Engine.Tests.Harness;

/// <summary>Reads stored payloads (JSON text) back the way the engine wrote them.</summary>
public static class Json
{
    /// <summary>Deserializes a payload with the engine's default converter.</summary>
    public static T? Read<T>(string? json) => DataConverter.Default.Deserialize<T>(json);

    /// <summary>The instance's output as <typeparamref name="T"/>.</summary>
    public static T? Output<T>(this OrchestrationMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return Read<T>(metadata.SerializedOutput);
    }
}
