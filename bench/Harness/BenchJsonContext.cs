using System.Text.Json.Serialization;
using KataWorkflows.Bench.Benchmarks;

namespace KataWorkflows.Bench.Harness;

/// <summary>The result shapes, serialized as one compact camelCase JSON line.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(EngineResult))]
[JsonSerializable(typeof(EntityLockResult))]
[JsonSerializable(typeof(LifecycleResult))]
[JsonSerializable(typeof(GuestResult))]
[JsonSerializable(typeof(ConsoleResult))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
