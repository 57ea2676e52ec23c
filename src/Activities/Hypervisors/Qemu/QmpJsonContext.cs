using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>Source-generated serialization of the QMP messages the client writes.</summary>
[JsonSerializable(typeof(JsonObject))]
internal sealed partial class QmpJsonContext : JsonSerializerContext;
