using Dt = Microsoft.DurableTask;

namespace KataWorkflows.Engine.Serialization;

/// <summary>The Durable Task SDK's data converter with the engine's JSON options (<see cref="DataConverter.Default"/>).</summary>
/// <remarks>
/// The SDK's own default (<c>JsonDataConverter.Default</c>) writes property names as declared and enums as numbers;
/// payloads and states stored by the engine are camelCase with enums as names, so everything that reads or writes
/// them through the SDK uses this one.
/// </remarks>
public static class SdkDataConverter
{
    /// <summary>The converter.</summary>
    public static Dt.DataConverter Default { get; } = new Dt.Converters.JsonDataConverter(DataConverter.Default.Options);
}
