using System.Text.Json;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>An asynchronous QMP event (<c>{"event": ..., "data": ..., "timestamp": ...}</c>).</summary>
/// <param name="Name">The event name (<c>SHUTDOWN</c>, <c>DEVICE_DELETED</c>, <c>VSERPORT_CHANGE</c>...).</param>
/// <param name="Data">Its data, or an undefined element when it has none.</param>
/// <param name="Timestamp">When QEMU emitted it.</param>
public sealed record QmpEvent(string Name, JsonElement Data, DateTimeOffset Timestamp)
{
    /// <summary>A string member of the data, or null.</summary>
    public string? DataString(string name) =>
        Data.ValueKind == JsonValueKind.Object && Data.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>The event as one short line, for diagnostics.</summary>
    public override string ToString() =>
        Data.ValueKind == JsonValueKind.Undefined ? Name : $"{Name} {Data.GetRawText()}";
}
