using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using KataWorkflows.Host.Telemetry;
using KataWorkflows.Host.Tests.Harness;
using KataWorkflows.Protocol.V1;
using KataWorkflows.TestSupport;

namespace KataWorkflows.Host.Tests;

/// <summary>Each client call is a span of KataWorkflows.Host with its method, sandbox and status, and is counted.</summary>
public sealed class TelemetryTests
{
    [Fact]
    public async Task Each_call_is_a_server_span_with_its_status_and_is_counted()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == HostTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        using var metrics = new MetricCollector(HostTelemetry.Name);
        await using var host = await TestHost.StartAsync();

        await host.Sandboxes.CreateSandboxAsync(Requests.Create("sb-tel"), cancellationToken: host.Token);
        await Assert.ThrowsAsync<RpcException>(async () => await host.Sandboxes.StatusSandboxAsync(new SandboxRef { SandboxId = "sb-tel-missing" }, cancellationToken: host.Token));

        var create = Assert.Single(spans, s => Equals(s.GetTagItem(HostTelemetry.SandboxIdTag), "sb-tel"));
        Assert.Equal(("kataworkflows.v1.Sandboxes/CreateSandbox", ActivityKind.Server, 0), (create.OperationName, create.Kind, (int)create.GetTagItem(HostTelemetry.StatusCodeTag)!));
        Assert.StartsWith("CreateSandbox:sb-tel:", (string)create.GetTagItem(HostTelemetry.InstanceIdTag)!, StringComparison.Ordinal);
        var missing = Assert.Single(spans, s => Equals(s.GetTagItem(HostTelemetry.SandboxIdTag), "sb-tel-missing"));
        Assert.Equal((ActivityStatusCode.Error, (int)StatusCode.NotFound), (missing.Status, (int)missing.GetTagItem(HostTelemetry.StatusCodeTag)!));
        Assert.NotEmpty(metrics.Values(HostTelemetry.CallsInstrument, (HostTelemetry.MethodTag, "/kataworkflows.v1.Sandboxes/CreateSandbox"), (HostTelemetry.StatusCodeTag, "OK")));
        Assert.NotEmpty(metrics.Values(HostTelemetry.CallsInstrument, (HostTelemetry.MethodTag, "/kataworkflows.v1.Sandboxes/StatusSandbox"), (HostTelemetry.StatusCodeTag, "NotFound")));
    }

    [Fact]
    public async Task A_call_and_the_run_it_starts_are_one_trace_down_to_each_activity()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is HostTelemetry.Name or HostTelemetry.EngineName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var host = await TestHost.StartAsync();

        await host.Sandboxes.CreateSandboxAsync(Requests.Create("sb-trace"), cancellationToken: host.Token);

        var call = Assert.Single(spans, s => s.Source.Name == HostTelemetry.Name && Equals(s.GetTagItem(HostTelemetry.SandboxIdTag), "sb-trace"));
        var instanceId = (string)call.GetTagItem(HostTelemetry.InstanceIdTag)!;
        var create = Assert.Single(spans, s => s.OperationName == "create_orchestration:CreateSandbox" && s.TraceId == call.TraceId);
        Assert.Equal(call.SpanId, create.ParentSpanId);

        // The run's span ends with its last episode, which may be just after the reply: wait for it, bounded.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!spans.Any(s => s.OperationName == "orchestration:CreateSandbox" && s.TraceId == call.TraceId) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, host.Token);
        }

        var run = Assert.Single(spans, s => s.OperationName == "orchestration:CreateSandbox" && s.TraceId == call.TraceId);
        Assert.Equal(create.SpanId, run.ParentSpanId);
        var activities = spans.Where(s => s.OperationName.StartsWith("activity:", StringComparison.Ordinal) && s.TraceId == call.TraceId).ToList();
        Assert.Contains(activities, s => s.OperationName == "activity:sandbox.startVM");
        Assert.All(activities, s => Assert.Equal(run.SpanId, s.ParentSpanId));
        Assert.StartsWith("CreateSandbox:sb-trace:", instanceId, StringComparison.Ordinal);
    }
}
