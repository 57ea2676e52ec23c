using KataWorkflows.Engine.Sdk;
using Microsoft.DurableTask.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using static KataWorkflows.Engine.Tests.Sdk.ProtocolEvents;
using Dt = Microsoft.DurableTask;
using DtEntities = Microsoft.DurableTask.Entities;
using DtWorker = Microsoft.DurableTask.Worker;

namespace KataWorkflows.Engine.Tests.Sdk;

public sealed class SdkActivityAndEntityRunnerTests
{
    private sealed class Counter : DtEntities.TaskEntity<int>
    {
        public int Add(int amount) => State += amount;

        public int Get() => State;

        public void Explode()
        {
            State = 999;
            Context.SignalEntity(new DtEntities.EntityInstanceId("counter", "lost"), "add", 1);
            throw new InvalidOperationException("counter exploded", new ArithmeticException("overflow"));
        }

        public void Poke(string key) => Context.SignalEntity(new DtEntities.EntityInstanceId("counter", key), "add", State);

        public string Spawn() => Context.ScheduleNewOrchestration("Child", State, new Dt.StartOrchestrationOptions { InstanceId = "spawned-1" });
    }

    private static (SdkActivityRunner Activities, SdkEntityRunner Entities) Runners(Action<Dt.DurableTaskRegistry> register)
    {
        var registry = new Dt.DurableTaskRegistry();
        register(registry);
        var factory = SdkTaskFactory.FromRegistry(registry);
        var services = new ServiceCollection().BuildServiceProvider();
        var shims = new DtWorker.Shims.DurableTaskShimFactory(new DtWorker.DurableTaskWorkerOptions { EnableEntitySupport = true }, NullLoggerFactory.Instance);
        return (new SdkActivityRunner(factory, services, shims), new SdkEntityRunner(factory, services, shims));
    }

    private static ActivityRequest Request(string name, string? input) => new()
    {
        Name = name,
        Input = input,
        TaskId = 4,
        OrchestrationInstance = new OrchestrationInstance { InstanceId = "i1", ExecutionId = "e1" },
    };

    [Fact]
    public async Task Activity_gets_the_protocol_input_and_its_context_and_returns_the_serialized_result()
    {
        var (activities, _) = Runners(r => r.AddActivityFunc<string, string>("Say", (ctx, who) => $"{ctx.Name}:{ctx.InstanceId}:hi {who}"));

        var response = await activities.RunAsync(Request("Say", "\"ann\""), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Null(response.FailureDetails);
        Assert.Equal("\"Say:i1:hi ann\"", response.Result);
        Assert.Equal(("i1", 4), (response.InstanceId, response.TaskId));
    }

    [Fact]
    public async Task An_array_input_reaches_the_activity_whole_despite_the_shims_bracket_stripping()
    {
        var (activities, _) = Runners(r => r.AddActivityFunc<int[], int>("Sum", (_, numbers) => numbers.Sum()));

        var response = await activities.RunAsync(Request("Sum", "[1,2,39]"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Null(response.FailureDetails);
        Assert.Equal("42", response.Result);
    }

    [Fact]
    public async Task A_throwing_activity_answers_with_type_message_stack_and_inner_failure()
    {
        var (activities, _) = Runners(r => r.AddActivityFunc<string, string>("Boom", Boom));

        var response = await activities.RunAsync(Request("Boom", "\"x\""), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Null(response.Result);
        Assert.Equal("System.InvalidOperationException", response.FailureDetails.ErrorType);
        Assert.Equal("vm would not start", response.FailureDetails.ErrorMessage);
        Assert.Contains(nameof(Boom), response.FailureDetails.StackTrace, StringComparison.Ordinal);
        Assert.Equal("System.TimeoutException", response.FailureDetails.InnerFailure.ErrorType);
        Assert.Equal("qmp silent", response.FailureDetails.InnerFailure.ErrorMessage);
    }

    [Fact]
    public async Task An_unknown_activity_fails_without_retry()
    {
        var (activities, _) = Runners(_ => { });

        var response = await activities.RunAsync(Request("Nope", null), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(SdkActivityRunner.ActivityNotFoundErrorType, response.FailureDetails.ErrorType);
        Assert.True(response.FailureDetails.IsNonRetriable);
        Assert.Contains("'Nope'", response.FailureDetails.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Entity_batch_runs_in_order_rolls_back_a_failed_operation_and_returns_results_actions_state_and_destinations()
    {
        var (_, entities) = Runners(r => r.AddEntity<Counter>("counter"));
        var request = new EntityRequest { InstanceId = "@counter@k1", ExecutionId = "x", EntityState = "5" };
        request.OperationRequests.Add(Signal("r1", "add", "3"));
        request.OperationRequests.Add(Call("r2", "get", null));
        request.OperationRequests.Add(Call("r3", "explode", null));
        request.OperationRequests.Add(Signal("r4", "poke", "\"other\""));
        request.OperationRequests.Add(Call("r5", "spawn", null));
        request.OperationRequests.Add(Call("r6", "nosuchop", null));

        var result = await entities.RunAsync(request, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("8", result.EntityState);
        Assert.Equal(6, result.Results.Count);
        Assert.Equal("8", result.Results[0].Success.Result);
        Assert.Equal("8", result.Results[1].Success.Result);
        var explode = result.Results[2].Failure.FailureDetails;
        Assert.Equal("System.InvalidOperationException", explode.ErrorType);
        Assert.Equal("counter exploded", explode.ErrorMessage);
        Assert.Equal("System.ArithmeticException", explode.InnerFailure.ErrorType);
        Assert.Equal("\"spawned-1\"", result.Results[4].Success.Result);
        Assert.Equal("System.NotSupportedException", result.Results[5].Failure.FailureDetails.ErrorType);
        Assert.All(result.Results.Take(2), r => Assert.NotNull(r.Success.StartTimeUtc));

        Assert.Equal(2, result.Actions.Count); // the failed operation's signal is rolled back with its state
        var signal = result.Actions[0].SendSignal;
        Assert.Equal(("@counter@other", "add", "8"), (signal.InstanceId, signal.Name, signal.Input));
        var start = result.Actions[1].StartNewOrchestration;
        Assert.Equal(("spawned-1", "Child", "8"), (start.InstanceId, start.Name, start.Input));
        Assert.Equal([0, 1], result.Actions.Select(a => a.Id));

        Assert.Equal(["r1", "r2", "r3", "r4", "r5", "r6"], result.OperationInfos.Select(i => i.RequestId));
        Assert.Null(result.OperationInfos[0].ResponseDestination);
        Assert.Equal(("i1", "e1"), (result.OperationInfos[1].ResponseDestination.InstanceId, result.OperationInfos[1].ResponseDestination.ExecutionId));
    }

    [Fact]
    public async Task Entity_batch_in_the_older_request_shape_runs_the_same()
    {
        var (_, entities) = Runners(r => r.AddEntity<Counter>("counter"));
        var request = new EntityBatchRequest { InstanceId = "@counter@k1" };
        request.Operations.Add(new OperationRequest { Operation = "add", RequestId = Guid.NewGuid().ToString(), Input = "2" });
        request.Operations.Add(new OperationRequest { Operation = "add", RequestId = Guid.NewGuid().ToString(), Input = "40" });

        var result = await entities.RunAsync(request, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("42", result.EntityState);
        Assert.Equal(["2", "42"], result.Results.Select(r => r.Success.Result));
        Assert.Empty(result.OperationInfos);
    }

    [Fact]
    public async Task An_unknown_entity_fails_every_operation_and_keeps_its_state()
    {
        var (_, entities) = Runners(_ => { });
        var request = new EntityRequest { InstanceId = "@ghost@1", EntityState = "\"kept\"" };
        request.OperationRequests.Add(Signal("r1", "add", "1"));
        request.OperationRequests.Add(Call("r2", "get", null));

        var result = await entities.RunAsync(request, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("\"kept\"", result.EntityState);
        Assert.All(result.Results, r => Assert.Equal(SdkEntityRunner.EntityNotFoundErrorType, r.Failure.FailureDetails.ErrorType));
        Assert.Equal(2, result.Results.Count);
    }

    [Fact]
    public async Task An_entity_request_that_carries_other_events_is_rejected_by_name()
    {
        var (_, entities) = Runners(r => r.AddEntity<Counter>("counter"));
        var request = new EntityRequest { InstanceId = "@counter@k1" };
        request.OperationRequests.Add(TaskCompleted(1, "1"));

        var e = await Assert.ThrowsAsync<ArgumentException>(() => entities.RunAsync(request, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("TaskCompleted", e.Message, StringComparison.Ordinal);
    }

    private static string Boom(Dt.TaskActivityContext context, string input) =>
        throw new InvalidOperationException("vm would not start", new TimeoutException("qmp silent"));

    private static HistoryEvent Signal(string id, string operation, string? input) => new()
    {
        EventId = -1,
        EntityOperationSignaled = new EntityOperationSignaledEvent { RequestId = id, Operation = operation, Input = input },
    };

    private static HistoryEvent Call(string id, string operation, string? input) => new()
    {
        EventId = -1,
        EntityOperationCalled = new EntityOperationCalledEvent { RequestId = id, Operation = operation, Input = input, ParentInstanceId = "i1", ParentExecutionId = "e1" },
    };
}
