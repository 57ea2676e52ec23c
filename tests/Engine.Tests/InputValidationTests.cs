using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Engine.Tests.Harness;
using KataWorkflows.Engine.Worker;
using StartOrchestrationOptions = Microsoft.DurableTask.StartOrchestrationOptions;

namespace KataWorkflows.Engine.Tests;

public sealed class InputValidationTests
{
    public static TheoryData<string, string> BadIds => new()
    {
        { string.Empty, "The instance id is empty." },
        { new string('x', 257), "257 characters long; at most 256" },
        { "abc\u0001def", "control character (U+0001) at position 3" },
        { "line\nbreak", "control character (U+000A) at position 4" },
        { "@counter@1", "starts with '@', which is reserved for entity ids" },
    };

    [Theory]
    [MemberData(nameof(BadIds))]
    public async Task Bad_instance_id_is_refused_with_a_message_saying_what_is_wrong_and_nothing_is_stored(string id, string expected)
    {
        await using var harness = await EngineHarness.StartAsync(r => r.AddOrchestratorFunc<int, int>("wf", (ctx, x) => Task.FromResult(x)));

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => harness.ScheduleAsync("wf", 1, id));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Equal(nameof(StartOrchestrationOptions.InstanceId), ex.ParamName);
        Assert.Empty((await harness.Client.QueryInstanceRecordsAsync(new OrchestrationQuery(), harness.Token)).Instances);
        Assert.Equal(0, harness.CommitCount);
    }

    [Fact]
    public async Task Longest_allowed_instance_id_is_accepted()
    {
        await using var harness = await EngineHarness.StartAsync(r => r.AddOrchestratorFunc<int, int>("wf", (ctx, x) => Task.FromResult(x)));

        var done = await harness.RunAsync("wf", 1, new string('x', 256));

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.Status);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public async Task Empty_orchestrator_name_is_refused_and_nothing_is_stored(string name)
    {
        await using var harness = await EngineHarness.StartAsync(_ => { });

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => harness.ScheduleAsync(name));

        Assert.Contains("orchestrator name is empty", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, harness.CommitCount);
    }

    [Fact]
    public async Task Input_that_cannot_be_serialized_is_refused_and_nothing_is_stored()
    {
        await using var harness = await EngineHarness.StartAsync(r => r.AddOrchestratorFunc<Node, int>("wf", (ctx, x) => Task.FromResult(1)));
        var cycle = new Node();
        cycle.Next = cycle;

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => harness.ScheduleAsync("wf", cycle, "cyclic"));

        Assert.Equal("input", ex.ParamName);
        Assert.Contains("input of orchestration 'wf' cannot be serialized", ex.Message, StringComparison.Ordinal);
        Assert.Contains("cycle", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Null(await harness.Client.GetInstanceRecordAsync("cyclic", cancellation: harness.Token));
        Assert.Empty((await harness.Client.QueryInstanceRecordsAsync(new OrchestrationQuery(), harness.Token)).Instances);
        Assert.Equal(0, harness.CommitCount);
    }

    [Fact]
    public async Task Unregistered_orchestrator_fails_the_instance_with_a_message_naming_it()
    {
        await using var harness = await EngineHarness.StartAsync(r => r.AddOrchestratorFunc<int, int>("known", (ctx, x) => Task.FromResult(x)));

        var done = await harness.RunAsync("unknown-flow", 1);

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.Status);
        Assert.Equal("OrchestratorTaskNotFound", done.FailureDetails?.ErrorType);
        Assert.Contains("'unknown-flow'", done.FailureDetails?.ErrorMessage, StringComparison.Ordinal);
        Assert.True(done.FailureDetails?.IsNonRetriable);
    }

    [Fact]
    public async Task Unregistered_activity_fails_the_instance_with_a_message_naming_the_activity_and_is_not_retried()
    {
        await using var harness = await EngineHarness.StartAsync(r =>
            r.AddOrchestratorFunc<int, int>("calls-missing", (ctx, x) =>
                ctx.CallActivityAsync<int>("missing-activity", x, TaskOptions.FromRetryPolicy(new RetryPolicy(5, TimeSpan.FromSeconds(30))))));

        var done = await harness.RunAsync("calls-missing", 1);

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.Status);
        Assert.Contains("'missing-activity'", done.FailureDetails?.ErrorMessage, StringComparison.Ordinal);
        var cause = Assert.IsType<FailureDetails>(done.FailureDetails?.InnerFailure);
        Assert.Equal("ActivityTaskNotFound", cause.ErrorType);
        Assert.Equal("No activity named 'missing-activity' is registered with this worker.", cause.ErrorMessage);
        var history = await harness.HistoryAsync(done.InstanceId);
        Assert.Equal(1, history.Count(Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase.TaskScheduled));
    }

    public sealed class Node
    {
        public Node? Next { get; set; }
    }
}
