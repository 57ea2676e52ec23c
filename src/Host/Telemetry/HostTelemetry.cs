using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace KataWorkflows.Host.Telemetry;

/// <summary>The host's trace source and meter, and the names of its spans, instruments and tags.</summary>
internal static class HostTelemetry
{
    /// <summary>The name of the host's <see cref="ActivitySource"/> and <see cref="Meter"/>.</summary>
    public const string Name = "KataWorkflows.Host";

    /// <summary>The engine's source and meter (registered, not created, here; the name is the engine's own constant).</summary>
    public const string EngineName = KataWorkflows.Engine.EngineTelemetry.Name;

    /// <summary>The orchestrations' source and meter (registered, not created, here).</summary>
    public const string OrchestrationsName = KataWorkflows.Orchestrations.Sandboxes.SandboxTelemetry.Name;

    /// <summary>Every source and meter the host exports.</summary>
    public static readonly IReadOnlyList<string> AllNames = [EngineName, Name, OrchestrationsName];

    /// <summary>Tag: the gRPC method (<c>/package.Service/Method</c>).</summary>
    public const string MethodTag = "rpc.method";

    /// <summary>Tag: the gRPC service.</summary>
    public const string ServiceTag = "rpc.service";

    /// <summary>Tag: the gRPC status code of the call.</summary>
    public const string StatusCodeTag = "rpc.grpc.status_code";

    /// <summary>Tag: the sandbox a call is about.</summary>
    public const string SandboxIdTag = "kwf.sandbox_id";

    /// <summary>Tag: the run a call started or read.</summary>
    public const string InstanceIdTag = "kwf.instance_id";

    /// <summary>Counter of client calls, by method and status code.</summary>
    public const string CallsInstrument = "kwf.host.calls";

    /// <summary>Histogram of client call durations in milliseconds, by method and status code.</summary>
    public const string CallDurationInstrument = "kwf.host.call.duration";

    /// <summary>The host's trace source: one span per incoming client call.</summary>
    public static readonly ActivitySource Source = new(Name);

    private static readonly Meter Meter = new(Name);

    /// <summary>Client calls.</summary>
    public static readonly Counter<long> Calls = Meter.CreateCounter<long>(CallsInstrument, description: "Client calls served, by method and status code.");

    /// <summary>Client call durations.</summary>
    public static readonly Histogram<double> CallDuration = Meter.CreateHistogram<double>(CallDurationInstrument, unit: "ms", description: "Duration of client calls.");
}
