using System.Diagnostics;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Client;
using KataWorkflows.Telemetry.Tests.Harness;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Telemetry.Tests;

/// <summary>Spans of client calls, orchestrations and activities, and the trace context the history keeps for them.</summary>
public sealed class TracingTests
{
    private static void Register(Microsoft.DurableTask.DurableTaskRegistry r) => r
        .AddActivityFunc<int, int>("Add", (_, x) => Task.FromResult(x + 1))
        .AddOrchestratorFunc<int, int>("Child", (ctx, x) => ctx.CallActivityAsync<int>("Add", x))
        .AddOrchestratorFunc<int, int>("Parent", async (ctx, x) =>
        {
            var a = await ctx.CallActivityAsync<int>("Add", x);
            var b = await ctx.CallActivityAsync<int>("Add", a);
            return await ctx.CallSubOrchestratorAsync<int>("Child", b, new Microsoft.DurableTask.SubOrchestrationOptions { InstanceId = ctx.InstanceId + "-child" });
        });

    [Fact]
    public async Task A_run_is_one_trace_from_the_client_span_through_the_orchestration_to_its_activities_and_sub_orchestration()
    {
        using var spans = new SpanCollector();
        await using var host = await SqliteEngineHost.StartAsync(Register);

        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync("Parent", 1, new Microsoft.DurableTask.StartOrchestrationOptions { InstanceId = "tree" }, host.Token);
        var run = await host.WaitForCompletionAsync(id);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, run.Status);
        Assert.Equal("4", run.SerializedOutput);
        var parent = await spans.WaitForAsync("orchestration:Parent", host.Token);
        var child = await spans.WaitForAsync("orchestration:Child", host.Token);

        var create = spans.One("create_orchestration:Parent");
        Assert.Equal(ActivityKind.Producer, create.Kind);
        Assert.Equal(default, create.ParentSpanId);
        var trace = spans.InTrace(create.TraceId);
        Assert.Equal(spans.Spans.Count, trace.Count);
        Assert.Equal(
            ["activity:Add", "activity:Add", "activity:Add", "create_orchestration:Child", "create_orchestration:Parent", "orchestration:Child", "orchestration:Parent"],
            trace.Select(s => s.DisplayName).Order(StringComparer.Ordinal));

        var createChild = spans.One("create_orchestration:Child");
        Assert.Equal(ActivityKind.Server, parent.Kind);
        Assert.Equal(create.SpanId, parent.ParentSpanId);
        Assert.Equal(parent.SpanId, createChild.ParentSpanId);
        Assert.Equal(createChild.SpanId, child.ParentSpanId);
        var activities = trace.Where(s => s.DisplayName == "activity:Add").ToList();
        Assert.Equal(2, activities.Count(a => a.ParentSpanId == parent.SpanId));
        Assert.Equal(1, activities.Count(a => a.ParentSpanId == child.SpanId));
        Assert.All(activities, a => Assert.Equal(ActivityKind.Server, a.Kind));

        // The orchestration span covers the run: it starts no later than its first activity and ends after its last.
        Assert.True(parent.StartTimeUtc <= activities.Min(a => a.StartTimeUtc), $"{parent.StartTimeUtc:O} > first activity");
        Assert.True(parent.StartTimeUtc + parent.Duration >= child.StartTimeUtc + child.Duration);

        Assert.Equal("orchestration", parent.GetTagItem(EngineTelemetry.TypeTag));
        Assert.Equal("Parent", parent.GetTagItem(EngineTelemetry.TaskNameTag));
        Assert.Equal("tree", parent.GetTagItem(EngineTelemetry.InstanceIdTag));
        Assert.Equal("Completed", parent.GetTagItem(EngineTelemetry.StatusTag));
        Assert.Equal("tree-child", child.GetTagItem(EngineTelemetry.InstanceIdTag));
        Assert.Equal("tree-child", createChild.GetTagItem(EngineTelemetry.InstanceIdTag));
        Assert.Equal("tree", createChild.GetTagItem(EngineTelemetry.ParentInstanceIdTag));
        Assert.All(activities, a => Assert.Equal("activity", a.GetTagItem(EngineTelemetry.TypeTag)));
        Assert.Equal(["tree", "tree", "tree-child"], activities.Select(a => (string)a.GetTagItem(EngineTelemetry.InstanceIdTag)!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_trace_context_of_a_run_and_of_what_it_schedules_is_stored_in_its_history_events()
    {
        using var spans = new SpanCollector();
        await using var host = await SqliteEngineHost.StartAsync(Register);

        await host.Client.ScheduleNewOrchestrationInstanceAsync("Parent", 1, new Microsoft.DurableTask.StartOrchestrationOptions { InstanceId = "stored" }, host.Token);
        await host.WaitForCompletionAsync("stored");

        var history = await host.Client.GetHistoryAsync("stored", cancellation: host.Token);
        var started = Assert.Single(history, e => e.ExecutionStarted is not null).ExecutionStarted;
        var create = spans.One("create_orchestration:Parent");
        var parent = await spans.WaitForAsync("orchestration:Parent", host.Token);
        Assert.Equal(create.Id, started.ParentTraceContext.TraceParent);
        Assert.Equal(parent.SpanId.ToHexString(), started.OrchestrationSpanID);

        var scheduled = history.Where(e => e.TaskScheduled is not null).Select(e => e.TaskScheduled).ToList();
        Assert.Equal(2, scheduled.Count);
        Assert.All(scheduled, t => Assert.Equal($"00-{parent.TraceId.ToHexString()}-{parent.SpanId.ToHexString()}-01", t.ParentTraceContext.TraceParent));

        var created = Assert.Single(history, e => e.SubOrchestrationInstanceCreated is not null).SubOrchestrationInstanceCreated;
        Assert.Equal(spans.One("create_orchestration:Child").Id, created.ParentTraceContext.TraceParent);
        var childStarted = (await host.Client.GetHistoryAsync("stored-child", cancellation: host.Token)).Single(e => e.ExecutionStarted is not null).ExecutionStarted;
        Assert.Equal(created.ParentTraceContext.TraceParent, childStarted.ParentTraceContext.TraceParent);
    }

    [Fact]
    public async Task A_run_resumed_by_a_new_store_and_worker_on_the_same_file_continues_its_trace()
    {
        using var spans = new SpanCollector();
        await using var host = await SqliteEngineHost.StartAsync(r => r
            .AddActivityFunc<string, string>("Step", (_, s) => Task.FromResult(s + "!"))
            .AddOrchestratorFunc<string, string>("Resumable", async (ctx, s) =>
            {
                var first = await ctx.CallActivityAsync<string>("Step", s);
                var go = await ctx.WaitForExternalEvent<string>("go");
                return await ctx.CallActivityAsync<string>("Step", first + go);
            }));

        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync("Resumable", "a", new Microsoft.DurableTask.StartOrchestrationOptions { InstanceId = "resumed" }, host.Token);
        await host.WaitForHistoryAsync(id, h => h.Any(e => e.TaskCompleted is not null));
        var storeBefore = host.Store;
        var traceId = spans.One("create_orchestration:Resumable").TraceId;
        Assert.DoesNotContain(spans.Spans, s => s.DisplayName == "orchestration:Resumable");

        await host.RestartAsync();
        Assert.NotSame(storeBefore, host.Store);
        await host.Client.RaiseEventAsync(id, "go", "b", host.Token);
        var run = await host.WaitForCompletionAsync(id);
        Assert.Equal("\"a!b!\"", run.SerializedOutput);

        var orchestration = await spans.WaitForAsync("orchestration:Resumable", host.Token);
        Assert.Equal(traceId, orchestration.TraceId);
        var steps = spans.Spans.Where(s => s.DisplayName == "activity:Step").ToList();
        Assert.Equal(2, steps.Count);
        Assert.All(steps, s => Assert.Equal(traceId, s.TraceId));
        // The step run before the restart points at the span the new process emitted at the end: its id is in history.
        Assert.All(steps, s => Assert.Equal(orchestration.SpanId, s.ParentSpanId));
        var started = (await host.Client.GetHistoryAsync(id, cancellation: host.Token)).Single(e => e.ExecutionStarted is not null).ExecutionStarted;
        Assert.Equal(started.OrchestrationSpanID, orchestration.SpanId.ToHexString());
        Assert.True(orchestration.StartTimeUtc <= steps.Min(s => s.StartTimeUtc));
    }

    [Fact]
    public async Task An_activity_interrupted_by_a_restart_runs_again_in_the_new_process_under_the_same_orchestration_span()
    {
        using var spans = new SpanCollector();
        var attempts = 0;
        var firstAttempt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await SqliteEngineHost.StartAsync(r => r
            .AddActivityFunc<int, int>("Slow", async (ctx, x) =>
            {
                if (Interlocked.Increment(ref attempts) == 1)
                {
                    // The first attempt never finishes: the worker's shutdown cancels it, and it is run again after the restart.
                    firstAttempt.TrySetResult();
                    await Task.Delay(Timeout.InfiniteTimeSpan, KataWorkflows.Engine.Worker.ActivityExecution.CancellationToken);
                }

                return x * 2;
            })
            .AddOrchestratorFunc<int, int>("Interrupted", (ctx, x) => ctx.CallActivityAsync<int>("Slow", x)));

        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync("Interrupted", 21, new Microsoft.DurableTask.StartOrchestrationOptions { InstanceId = "interrupted" }, host.Token);
        await firstAttempt.Task.WaitAsync(host.Token);
        await host.RestartAsync();
        var run = await host.WaitForCompletionAsync(id);

        Assert.Equal("42", run.SerializedOutput);
        Assert.Equal(2, attempts);
        var orchestration = await spans.WaitForAsync("orchestration:Interrupted", host.Token);
        var slow = spans.Spans.Where(s => s.DisplayName == "activity:Slow").ToList();
        Assert.Equal(2, slow.Count);
        Assert.All(slow, s => Assert.Equal(orchestration.TraceId, s.TraceId));
        Assert.All(slow, s => Assert.Equal(orchestration.SpanId, s.ParentSpanId));
        Assert.Equal(spans.One("create_orchestration:Interrupted").SpanId, orchestration.ParentSpanId);
    }

    [Fact]
    public async Task A_failed_run_ends_its_orchestration_span_with_an_error_and_the_failed_activity_span_too()
    {
        using var spans = new SpanCollector();
        await using var host = await SqliteEngineHost.StartAsync(r => r
            .AddActivityFunc<int, int>("Boom", (_, _) => Task.FromException<int>(new InvalidOperationException("boom")))
            .AddOrchestratorFunc<int, int>("Fails", (ctx, x) => ctx.CallActivityAsync<int>("Boom", x)));

        await host.Client.ScheduleNewOrchestrationInstanceAsync("Fails", 1, new Microsoft.DurableTask.StartOrchestrationOptions { InstanceId = "fails" }, host.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Failed, (await host.WaitForCompletionAsync("fails")).Status);

        var orchestration = await spans.WaitForAsync("orchestration:Fails", host.Token);
        var activity = spans.One("activity:Boom");
        Assert.Equal(ActivityStatusCode.Error, orchestration.Status);
        Assert.Equal("Failed", orchestration.GetTagItem(EngineTelemetry.StatusTag));
        Assert.Equal(ActivityStatusCode.Error, activity.Status);
        Assert.Equal("boom", activity.StatusDescription);
        Assert.Equal(typeof(InvalidOperationException).FullName, activity.GetTagItem(EngineTelemetry.ErrorTypeTag));
        Assert.Equal(orchestration.SpanId, activity.ParentSpanId);
    }

    [Fact]
    public async Task A_run_scheduled_under_a_callers_span_joins_the_callers_trace()
    {
        using var spans = new SpanCollector();
        using var callerSource = new ActivitySource("Telemetry.Tests.Caller");
        using var callerListener = new ActivityListener
        {
            ShouldListenTo = s => s == callerSource,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(callerListener);
        await using var host = await SqliteEngineHost.StartAsync(Register);

        string id;
        ActivityContext caller;
        using (var request = callerSource.StartActivity("request"))
        {
            Assert.NotNull(request);
            caller = request.Context;
            id = await host.Client.ScheduleNewOrchestrationInstanceAsync("Child", 1, new Microsoft.DurableTask.StartOrchestrationOptions { InstanceId = "joined" }, host.Token);
        }

        await host.WaitForCompletionAsync(id);
        var create = spans.One("create_orchestration:Child");
        Assert.Equal(caller.TraceId, create.TraceId);
        Assert.Equal(caller.SpanId, create.ParentSpanId);
        Assert.Equal(caller.TraceId, (await spans.WaitForAsync("orchestration:Child", host.Token)).TraceId);
        Assert.Equal(caller.TraceId, spans.One("activity:Add").TraceId);
    }

    [Fact]
    public async Task Without_a_listener_no_trace_context_is_stored_and_no_span_is_made()
    {
        await using var host = await SqliteEngineHost.StartAsync(Register);
        Assert.Null(Activity.Current);

        await host.Client.ScheduleNewOrchestrationInstanceAsync("Parent", 1, new Microsoft.DurableTask.StartOrchestrationOptions { InstanceId = "untraced" }, host.Token);
        await host.WaitForCompletionAsync("untraced");

        var history = await host.Client.GetHistoryAsync("untraced", cancellation: host.Token);
        Assert.Null(history.Single(e => e.ExecutionStarted is not null).ExecutionStarted.ParentTraceContext);
        Assert.All(history.Where(e => e.TaskScheduled is not null), e => Assert.Null(e.TaskScheduled.ParentTraceContext));
        Assert.Null(history.Single(e => e.SubOrchestrationInstanceCreated is not null).SubOrchestrationInstanceCreated.ParentTraceContext);
    }
}
