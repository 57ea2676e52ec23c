using System.Text.Json.Serialization;

namespace KataWorkflows.GuestAgent;

/// <summary>The JSON the agent writes itself (ListProcesses' "json" format), source-generated for NativeAOT.</summary>
[JsonSerializable(typeof(int[]))]
internal sealed partial class AgentJsonContext : JsonSerializerContext;
