using DurableTask.Core.Exceptions;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Client;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;
using CoreHistory = DurableTask.Core.History;
using CoreEvent = DurableTask.Core.History.EventType;
using Dt = Microsoft.DurableTask;
using DtClient = Microsoft.DurableTask.Client;
using DtEntities = Microsoft.DurableTask.Client.Entities;

namespace KataWorkflows.Storage.Tests;

/// <summary>
/// The Durable Task SDK's client over the store (<see cref="StoreDurableTaskClient"/>), every member it serves, through
/// the SDK's own types. Episodes are committed the way the worker commits them (<see cref="RunEpisodeAsync"/>), so the
/// cases need no orchestration code; each runs over every store of the suite.
/// </summary>
public abstract partial class OrchestrationStoreConformance
{
    private static readonly Dt.Entities.EntityInstanceId SdkCounter = new("counter", "c1");

    /// <summary>A client over a store on the case's clock.</summary>
    protected StoreDurableTaskClient ClientOver(IOrchestrationStore store, DtClient.DurableTaskClientOptions? options = null) =>
        new(store, options, Time);

    [Fact]
    public async Task Client_schedules_with_id_start_time_tags_version_and_input()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        var startAt = new DateTimeOffset(Now.AddMinutes(5));
        var id = await client.ScheduleNewOrchestrationInstanceAsync(
            "Workflow",
            new { Size = 3, Name = "x" },
            new Dt.StartOrchestrationOptions
            {
                InstanceId = "i1",
                StartAt = startAt,
                Tags = new Dictionary<string, string> { ["team"] = "a" },
                Version = new Dt.TaskVersion("2.0"),
            },
            Ct);

        Assert.Equal("i1", id);
        var instance = await client.GetInstanceAsync(id, getInputsAndOutputs: true, Ct);
        Assert.NotNull(instance);
        Assert.Equal(("Workflow", DtClient.OrchestrationRuntimeStatus.Pending, "a"), (instance.Name, instance.RuntimeStatus, instance.Tags["team"]));
        Assert.Equal("""{"size":3,"name":"x"}""", instance.SerializedInput);
        Assert.Equal(new DateTimeOffset(Now), instance.CreatedAt);
        var record = await client.GetInstanceRecordAsync(id, cancellation: Ct);
        Assert.Equal(("2.0", startAt.UtcDateTime), (record!.Version, record.ScheduledStartAt));

        // Not offered before its start time; then its ExecutionStarted carries the options.
        await AssertNoOrchestrationWorkAsync(store);
        Time.Advance(TimeSpan.FromMinutes(5));
        var started = Assert.Single((await LockAsync(store, id)).NewMessages).ExecutionStarted;
        Assert.Equal(("Workflow", "2.0", startAt.UtcDateTime, "a"), (started.Name, started.Version, started.ScheduledStartTimestamp.ToDateTime(), started.Tags["team"]));
    }

    [Fact]
    public async Task Client_schedules_with_the_default_version_and_an_ordered_id()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store, new DtClient.DurableTaskClientOptions { DefaultVersion = "1.5", EnableEntitySupport = true });
        var first = await client.ScheduleNewOrchestrationInstanceAsync("Workflow", cancellation: Ct);
        var second = await client.ScheduleNewOrchestrationInstanceAsync("Workflow", cancellation: Ct);

        Assert.True(string.CompareOrdinal(first, second) < 0, $"{first} then {second}");
        Assert.Equal("1.5", (await client.GetInstanceRecordAsync(first, cancellation: Ct))!.Version);
    }

    [Fact]
    public async Task Client_refuses_a_used_id_and_bad_starts_and_stores_nothing()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        await client.ScheduleNewOrchestrationInstanceAsync("Workflow", "1", new Dt.StartOrchestrationOptions("dup"), Ct);

        var again = await Assert.ThrowsAsync<OrchestrationAlreadyExistsException>(
            () => client.ScheduleNewOrchestrationInstanceAsync("Workflow", "2", new Dt.StartOrchestrationOptions("dup"), Ct));
        Assert.IsType<InstanceAlreadyExistsException>(again.InnerException);
        Assert.Contains("'dup'", again.Message, StringComparison.Ordinal);
        var noName = await Assert.ThrowsAsync<ArgumentException>(() => client.ScheduleNewOrchestrationInstanceAsync(" ", cancellation: Ct));
        Assert.Equal("orchestratorName", noName.ParamName);
        var entityId = await Assert.ThrowsAsync<ArgumentException>(
            () => client.ScheduleNewOrchestrationInstanceAsync("Workflow", new Dt.StartOrchestrationOptions("@counter@c1"), Ct));
        Assert.Contains("reserved for entity ids", entityId.Message, StringComparison.Ordinal);
        var badInput = await Assert.ThrowsAsync<ArgumentException>(
            () => client.ScheduleNewOrchestrationInstanceAsync("Workflow", new Cyclic(), new Dt.StartOrchestrationOptions("cyclic"), Ct));
        Assert.StartsWith("input: the input of orchestration 'Workflow' cannot be serialized", badInput.Message, StringComparison.Ordinal);

        Assert.Equal("\"1\"", (await client.GetInstanceAsync("dup", true, Ct))!.SerializedInput);
        Assert.Null(await client.GetInstanceAsync("cyclic", cancellation: Ct));
    }

    [Fact]
    public async Task Client_replaces_a_finished_instance_only_in_a_status_not_deduped()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        await CreateCompletedAsync(store, "reused");
        var first = (await client.GetInstanceRecordAsync("reused", cancellation: Ct))!.ExecutionId;

        // No dedupe statuses: any existing instance is a conflict. Completed among them: a conflict too.
        await Assert.ThrowsAsync<OrchestrationAlreadyExistsException>(
            () => client.ScheduleNewOrchestrationInstanceAsync("Workflow", new Dt.StartOrchestrationOptions("reused"), Ct));
        await Assert.ThrowsAsync<OrchestrationAlreadyExistsException>(() => client.ScheduleNewOrchestrationInstanceAsync(
            "Workflow", DtClient.StartOrchestrationOptionsExtensions.WithDedupeStatuses(new Dt.StartOrchestrationOptions("reused"), DtClient.OrchestrationRuntimeStatus.Completed), Ct));
        var bad = await Assert.ThrowsAsync<ArgumentException>(() => client.ScheduleNewOrchestrationInstanceAsync(
            "Workflow", new Dt.StartOrchestrationOptions("reused") { DedupeStatuses = ["Bogus"] }, Ct));
        Assert.StartsWith("DedupeStatuses: 'Bogus' is not an orchestration status", bad.Message, StringComparison.Ordinal);
        Assert.Equal((DtClient.OrchestrationRuntimeStatus.Completed, first), (await StatusAsync(client, "reused"), (await client.GetInstanceRecordAsync("reused", cancellation: Ct))!.ExecutionId));

        // Only Failed deduped: a completed one is replaced by a new run.
        await client.ScheduleNewOrchestrationInstanceAsync(
            "Workflow", "\"again\"", DtClient.StartOrchestrationOptionsExtensions.WithDedupeStatuses(new Dt.StartOrchestrationOptions("reused"), DtClient.OrchestrationRuntimeStatus.Failed), Ct);
        var replaced = await client.GetInstanceRecordAsync("reused", cancellation: Ct);
        Assert.Equal(OrchestrationRuntimeStatus.Pending, replaced!.Status);
        Assert.NotEqual(first, replaced.ExecutionId);

        // Every status reusable, but the instance has not finished: still a conflict (it is not terminated to make room).
        await Assert.ThrowsAsync<OrchestrationAlreadyExistsException>(() => client.ScheduleNewOrchestrationInstanceAsync(
            "Workflow", new Dt.StartOrchestrationOptions("reused") { DedupeStatuses = [] }, Ct));
    }

    [Fact]
    public async Task Client_raises_events_and_refuses_unknown_and_entity_ids()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        await CreateRunningAsync(store, "r1");
        await client.RaiseEventAsync("r1", "Approval", new { By = "ann" }, Ct);

        var workItem = await LockAsync(store, "r1");
        var raised = Assert.Single(workItem.NewMessages, e => e.EventRaised is not null).EventRaised;
        Assert.Equal(("Approval", """{"by":"ann"}"""), (raised.Name, raised.Input));
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => client.RaiseEventAsync("nope", "Approval", cancellation: Ct));
        var entity = await Assert.ThrowsAsync<ArgumentException>(() => client.RaiseEventAsync("@counter@c1", "Approval", cancellation: Ct));
        Assert.Equal(("instanceId", "'@counter@c1' is an entity; signal it instead of sending it orchestration messages. (Parameter 'instanceId')"), (entity.ParamName, entity.Message));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetInstanceAsync("@counter@c1", cancellation: Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => client.WaitForInstanceCompletionAsync("@counter@c1", cancellation: Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => client.RaiseEventAsync("r1", "", cancellation: Ct));
    }

    [Fact]
    public async Task Client_waits_for_start_and_completion_with_or_without_payloads()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        await client.ScheduleNewOrchestrationInstanceAsync("Workflow", "in", new Dt.StartOrchestrationOptions("w1"), Ct);
        using var timeout = Timeout();
        var start = client.WaitForInstanceStartAsync("w1", cancellation: timeout.Token);
        var completion = client.WaitForInstanceCompletionAsync("w1", getInputsAndOutputs: true, timeout.Token);
        Assert.False(start.IsCompleted);

        var workItem = await LockAsync(store, "w1");
        await RunEpisodeAsync(store, workItem);
        var started = await start;
        Assert.Equal((DtClient.OrchestrationRuntimeStatus.Running, null), (started.RuntimeStatus, started.SerializedInput));
        Assert.False(completion.IsCompleted);

        await WakeAsync(store, "w1", Actions.Complete(0, "\"out\""));
        Assert.Equal("in", (await completion).ReadInputAs<string>());
        var done = await completion;
        Assert.Equal((DtClient.OrchestrationRuntimeStatus.Completed, "\"in\"", "\"out\""), (done.RuntimeStatus, done.SerializedInput, done.SerializedOutput));
        Assert.Equal("out", done.ReadOutputAs<string>());
        var again = await client.WaitForInstanceCompletionAsync("w1", cancellation: Ct);
        Assert.Equal((DtClient.OrchestrationRuntimeStatus.Completed, null), (again.RuntimeStatus, again.SerializedOutput));
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => client.WaitForInstanceStartAsync("nope", cancellation: Ct));
    }

    [Fact]
    public async Task Client_wait_gives_up_when_its_token_is_cancelled()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        await CreateRunningAsync(store, "idle");
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var waiting = client.WaitForInstanceCompletionAsync("idle", cancellation: cancel.Token);
        Assert.False(waiting.IsCompleted);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(DtClient.OrchestrationRuntimeStatus.Running, await StatusAsync(client, "idle"));
    }

    [Fact]
    public async Task Client_suspends_and_resumes_and_refuses_a_finished_instance()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        await CreateRunningAsync(store, "s1");
        await client.SuspendInstanceAsync("s1", "maintenance", Ct);
        await RunNextEpisodeAsync(store, "s1");
        Assert.Equal(DtClient.OrchestrationRuntimeStatus.Suspended, await StatusAsync(client, "s1"));

        await client.ResumeInstanceAsync("s1", "done", Ct);
        var workItem = await LockAsync(store, "s1");
        Assert.Equal("done", Assert.Single(workItem.NewMessages, e => e.ExecutionResumed is not null).ExecutionResumed.Input);
        await RunEpisodeAsync(store, workItem, Actions.Complete(0, null));
        Assert.Equal(DtClient.OrchestrationRuntimeStatus.Completed, await StatusAsync(client, "s1"));

        var finished = await Assert.ThrowsAsync<InstanceStateException>(() => client.SuspendInstanceAsync("s1", cancellation: Ct));
        Assert.Equal(OrchestrationRuntimeStatus.Completed, finished.Status);
        await Assert.ThrowsAsync<InstanceStateException>(() => client.ResumeInstanceAsync("s1", cancellation: Ct));
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => client.SuspendInstanceAsync("nope", cancellation: Ct));
    }

    [Fact]
    public async Task Client_terminates_with_an_output_and_recursively()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        await CreateAsync(store, "parent");
        await RunNextEpisodeAsync(store, "parent", Actions.CreateSubOrchestration(0, "child", "Child", null));
        await RunNextEpisodeAsync(store, "child");
        Assert.Equal(DtClient.OrchestrationRuntimeStatus.Running, await StatusAsync(client, "child"));

        await client.TerminateInstanceAsync("parent", new DtClient.TerminateInstanceOptions { Output = "stop", Recursive = true }, Ct);
        await RunNextEpisodeAsync(store, "parent");
        await RunNextEpisodeAsync(store, "child");

        var parent = await client.GetInstanceAsync("parent", getInputsAndOutputs: true, Ct);
        Assert.Equal((DtClient.OrchestrationRuntimeStatus.Terminated, "\"stop\""), (parent!.RuntimeStatus, parent.SerializedOutput));
        Assert.Equal(DtClient.OrchestrationRuntimeStatus.Terminated, await StatusAsync(client, "child"));

        // Without recursion only the instance named ends.
        await CreateAsync(store, "p2");
        await RunNextEpisodeAsync(store, "p2", Actions.CreateSubOrchestration(0, "c2", "Child", null));
        await RunNextEpisodeAsync(store, "c2");
        await client.TerminateInstanceAsync("p2", "alone", Ct);
        await RunNextEpisodeAsync(store, "p2");
        Assert.Equal(DtClient.OrchestrationRuntimeStatus.Terminated, await StatusAsync(client, "p2"));
        Assert.Equal(DtClient.OrchestrationRuntimeStatus.Running, await StatusAsync(client, "c2"));
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => client.TerminateInstanceAsync("nope", cancellation: Ct));
    }

    [Fact]
    public async Task Client_pages_instances_in_creation_order_with_filters()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        foreach (var id in new[] { "q1", "q2", "q3", "q4", "q5" })
        {
            await client.ScheduleNewOrchestrationInstanceAsync("Workflow", new Dt.StartOrchestrationOptions(id), Ct);
            Time.Advance(TimeSpan.FromSeconds(1));
        }

        var locked = await LockAllAsync(store);
        await RunEpisodeAsync(store, locked["q2"], Actions.Complete(0, "\"two\""));
        var pages = new List<Dt.Page<DtClient.OrchestrationMetadata>>();
        await foreach (var page in client.GetAllInstancesAsync(new DtClient.OrchestrationQuery { PageSize = 2 }).AsPages().WithCancellation(Ct))
        {
            pages.Add(page);
        }

        Assert.Equal(new[] { "q1,q2", "q3,q4", "q5" }, pages.Select(p => string.Join(',', p.Values.Select(i => i.InstanceId))));
        Assert.Null(pages[^1].ContinuationToken);
        Assert.All(pages.SelectMany(p => p.Values), i => Assert.Null(i.SerializedInput));

        // A page from a token, by status, by prefix, by creation time, with payloads.
        var resumed = await FirstPageAsync(client.GetAllInstancesAsync(new DtClient.OrchestrationQuery { PageSize = 2, ContinuationToken = pages[0].ContinuationToken }));
        Assert.Equal(["q3", "q4"], resumed.Values.Select(i => i.InstanceId));
        var completed = await ListAsync(client.GetAllInstancesAsync(new DtClient.OrchestrationQuery { Statuses = [DtClient.OrchestrationRuntimeStatus.Completed], FetchInputsAndOutputs = true }));
        Assert.Equal(("q2", "\"two\""), (Assert.Single(completed).InstanceId, completed[0].SerializedOutput));
        var later = await ListAsync(client.GetAllInstancesAsync(new DtClient.OrchestrationQuery { CreatedFrom = new DateTimeOffset(Epoch.AddSeconds(3)) }));
        Assert.Equal(["q4", "q5"], later.Select(i => i.InstanceId));
        Assert.Single(await ListAsync(client.GetAllInstancesAsync(new DtClient.OrchestrationQuery { InstanceIdPrefix = "q3" })));

        // Bad filters name what is wrong.
        var size = await Assert.ThrowsAsync<ArgumentException>(() => ListAsync(client.GetAllInstancesAsync(new DtClient.OrchestrationQuery { PageSize = 1001 })));
        Assert.StartsWith("PageSize must be between 1 and 1000, not 1001", size.Message, StringComparison.Ordinal);
        var token = await Assert.ThrowsAsync<ArgumentException>(() => ListAsync(client.GetAllInstancesAsync(new DtClient.OrchestrationQuery { ContinuationToken = "garbage!" })));
        Assert.StartsWith("ContinuationToken is not a token returned by a previous query", token.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => client.GetAllInstancesAsync(new DtClient.OrchestrationQuery { TaskHubNames = ["other"] }));
        Assert.Throws<ArgumentException>(() => client.GetAllInstancesAsync(new DtClient.OrchestrationQuery { InstanceIdPrefix = "@counter@" }));
    }

    [Fact]
    public async Task Client_lists_instance_ids_by_page_and_completion_time()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        foreach (var id in new[] { "l1", "l2", "l3" })
        {
            await CreateAsync(store, id);
            Time.Advance(TimeSpan.FromSeconds(1));
        }

        var locked = await LockAllAsync(store);
        await RunEpisodeAsync(store, locked["l1"], Actions.Complete(0, null));
        var completedAt = Now;
        Time.Advance(TimeSpan.FromMinutes(1));
        await RunEpisodeAsync(store, locked["l3"], Actions.Complete(0, null));

        var first = await client.ListInstanceIdsAsync(pageSize: 2, cancellation: Ct);
        Assert.Equal(["l1", "l2"], first.Values);
        Assert.NotNull(first.ContinuationToken);
        var second = await client.ListInstanceIdsAsync(pageSize: 2, lastInstanceKey: first.ContinuationToken, cancellation: Ct);
        Assert.Equal(["l3"], second.Values);
        Assert.Null(second.ContinuationToken);
        var early = await client.ListInstanceIdsAsync(completedTimeFrom: new DateTimeOffset(completedAt), completedTimeTo: new DateTimeOffset(completedAt.AddSeconds(1)), cancellation: Ct);
        Assert.Equal(["l1"], early.Values);
        var running = await client.ListInstanceIdsAsync([DtClient.OrchestrationRuntimeStatus.Pending], cancellation: Ct);
        Assert.Equal(["l2"], running.Values);

        await Assert.ThrowsAsync<ArgumentException>(() => client.ListInstanceIdsAsync(pageSize: 0, cancellation: Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => client.ListInstanceIdsAsync(lastInstanceKey: "garbage!", cancellation: Ct));
    }

    [Fact]
    public async Task Client_purges_by_id_and_by_filter_only_what_finished()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        await CreateCompletedAsync(store, "done1");
        await CreateCompletedAsync(store, "done2");
        await CreateRunningAsync(store, "busy");

        var running = await Assert.ThrowsAsync<InstanceStateException>(() => client.PurgeInstanceAsync("busy", cancellation: Ct));
        Assert.Equal(OrchestrationRuntimeStatus.Running, running.Status);
        await Assert.ThrowsAsync<NotSupportedException>(() => client.PurgeInstanceAsync("done1", new DtClient.PurgeInstanceOptions(Recursive: true), Ct));
        Assert.NotNull(await client.GetInstanceAsync("done1", cancellation: Ct));

        var one = await client.PurgeInstanceAsync("done1", cancellation: Ct);
        Assert.Equal((1, (bool?)true), (one.PurgedInstanceCount, one.IsComplete));
        Assert.Equal(0, (await client.PurgeInstanceAsync("done1", cancellation: Ct)).PurgedInstanceCount);
        Assert.Null(await client.GetInstanceAsync("done1", cancellation: Ct));
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => client.GetHistoryAsync("done1", cancellation: Ct));

        var notTerminal = await Assert.ThrowsAsync<ArgumentException>(() => client.PurgeAllInstancesAsync(
            new DtClient.PurgeInstancesFilter(null, null, [DtClient.OrchestrationRuntimeStatus.Running]), cancellation: Ct));
        Assert.StartsWith("Statuses: only terminal instances can be purged, not Running", notTerminal.Message, StringComparison.Ordinal);
        Assert.Equal(0, (await client.PurgeAllInstancesAsync(new DtClient.PurgeInstancesFilter(null, null, [DtClient.OrchestrationRuntimeStatus.Failed]), cancellation: Ct)).PurgedInstanceCount);
        var all = await client.PurgeAllInstancesAsync(new DtClient.PurgeInstancesFilter(new DateTimeOffset(Epoch), null, null), cancellation: Ct);
        Assert.Equal(1, all.PurgedInstanceCount);
        Assert.Equal(["busy"], (await ListAsync(client.GetAllInstancesAsync())).Select(i => i.InstanceId));
    }

    [Fact]
    public async Task Client_restarts_under_the_same_or_a_new_id()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        await client.ScheduleNewOrchestrationInstanceAsync(
            "Workflow", new { N = 1 }, new Dt.StartOrchestrationOptions("again") { Version = new Dt.TaskVersion("3"), Tags = new Dictionary<string, string> { ["k"] = "v" } }, Ct);
        await RunNextEpisodeAsync(store, "again");
        var running = await Assert.ThrowsAsync<InstanceStateException>(() => client.RestartAsync("again", cancellation: Ct));
        Assert.Equal(OrchestrationRuntimeStatus.Running, running.Status);
        await WakeAsync(store, "again", Actions.Complete(0, null));
        var first = (await client.GetInstanceRecordAsync("again", cancellation: Ct))!.ExecutionId;

        Assert.Equal("again", await client.RestartAsync("again", cancellation: Ct));
        var restarted = await client.GetInstanceRecordAsync("again", getInputsAndOutputs: true, Ct);
        Assert.Equal((OrchestrationRuntimeStatus.Pending, """{"n":1}""", "3", "v"), (restarted!.Status, restarted.SerializedInput, restarted.Version, restarted.Tags["k"]));
        Assert.NotEqual(first, restarted.ExecutionId);

        var other = await client.RestartAsync("again", restartWithNewInstanceId: true, Ct);
        Assert.NotEqual("again", other);
        Assert.Equal("""{"n":1}""", (await client.GetInstanceAsync(other, getInputsAndOutputs: true, Ct))!.SerializedInput);
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => client.RestartAsync("nope", cancellation: Ct));
    }

    [Fact]
    public async Task Client_reads_history_as_Core_events_and_as_the_protocol_stores_it()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        await client.ScheduleNewOrchestrationInstanceAsync("Workflow", "in", new Dt.StartOrchestrationOptions("h1"), Ct);
        await RunNextEpisodeAsync(store, "h1", Actions.ScheduleTask(0, "Step", "\"x\""));
        var activity = await store.TryLockActivityAsync(Lease, Ct);
        await store.CompleteActivityAsync(activity!, Messages.TaskCompleted(0, "\"y\"", Now), Ct);
        await RunNextEpisodeAsync(store, "h1", Actions.Complete(1, "\"y\""));

        var protocol = await client.GetHistoryAsync("h1", cancellation: Ct);
        var core = await client.GetOrchestrationHistoryAsync("h1", Ct);
        Assert.Equal(protocol.Count, core.Count);
        Assert.Equal(
            [CoreEvent.OrchestratorStarted, CoreEvent.ExecutionStarted, CoreEvent.TaskScheduled, CoreEvent.OrchestratorCompleted,
             CoreEvent.OrchestratorStarted, CoreEvent.TaskCompleted, CoreEvent.ExecutionCompleted, CoreEvent.OrchestratorCompleted],
            core.Select(e => e.EventType));
        Assert.Equal(("Workflow", "\"in\""), (((CoreHistory.ExecutionStartedEvent)core[1]).Name, ((CoreHistory.ExecutionStartedEvent)core[1]).Input));
        Assert.Equal(("Step", 0), (((CoreHistory.TaskScheduledEvent)core[2]).Name, core[2].EventId));
        Assert.Equal("\"y\"", ((CoreHistory.TaskCompletedEvent)core[5]).Result);
        Assert.Equal(DurableTask.Core.OrchestrationStatus.Completed, ((CoreHistory.ExecutionCompletedEvent)core[6]).OrchestrationStatus);

        // The protocol history of an execution named by its id is the same history.
        var execution = (await client.GetInstanceRecordAsync("h1", cancellation: Ct))!.ExecutionId;
        Assert.Equal(protocol, await client.GetHistoryAsync("h1", execution, Ct));
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => client.GetOrchestrationHistoryAsync("nope", Ct));
        await Assert.ThrowsAsync<NotSupportedException>(() => client.RewindInstanceAsync("h1", "why", Ct));
    }

    [Fact]
    public async Task Entity_client_signals_now_and_later()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        await client.Entities.SignalEntityAsync(SdkCounter, "add", new { Amount = 5 }, cancellation: Ct);
        await client.Entities.SignalEntityAsync(SdkCounter, "reset", options: new Dt.Entities.SignalEntityOptions { SignalTime = new DateTimeOffset(Now.AddMinutes(2)) }, Ct);

        var batch = await store.TryLockEntityAsync(Lease, Ct);
        var add = Assert.Single(batch!.Operations).EntityOperationSignaled;
        Assert.Equal(("@counter@c1", "add", """{"amount":5}"""), (batch.InstanceId, add.Operation, add.Input));
        await store.CompleteEntityAsync(batch, BatchResult(batch, "5"), Ct);
        await AssertNoEntityWorkAsync(store);
        Time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal("reset", Assert.Single((await store.TryLockEntityAsync(Lease, Ct))!.Operations).EntityOperationSignaled.Operation);

        await Assert.ThrowsAsync<ArgumentException>(() => client.Entities.SignalEntityAsync(SdkCounter, " ", cancellation: Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => client.Entities.SignalEntityAsync(default, "add", cancellation: Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => client.Entities.SignalEntityAsync(SdkCounter, "add", new Cyclic(), cancellation: Ct));
    }

    [Fact]
    public async Task Entity_client_gets_an_entity_with_and_without_state()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        Assert.Null(await client.Entities.GetEntityAsync(SdkCounter, cancellation: Ct));
        await client.Entities.SignalEntityAsync(SdkCounter, "set", 7, cancellation: Ct);
        var batch = await store.TryLockEntityAsync(Lease, Ct);
        await store.CompleteEntityAsync(batch!, BatchResult(batch!, "7"), Ct);

        var withState = await client.Entities.GetEntityAsync(SdkCounter, cancellation: Ct);
        Assert.Equal((SdkCounter, true, "7", 7, 0, null), (withState!.Id, withState.IncludesState, withState.State!.Value, withState.State.ReadAs<int>(), withState.BacklogQueueSize, withState.LockedBy));
        Assert.Equal(new DateTimeOffset(Now), withState.LastModifiedTime);
        var without = await client.Entities.GetEntityAsync(SdkCounter, includeState: false, Ct);
        Assert.False(without!.IncludesState);
        Assert.Equal(7, (await client.Entities.GetEntityAsync<int>(SdkCounter, cancellation: Ct))!.State);
        var typed = await Assert.ThrowsAsync<ArgumentException>(() => client.Entities.GetEntityAsync<Guid>(SdkCounter, cancellation: Ct));
        Assert.Contains("cannot be read as System.Guid", typed.Message, StringComparison.Ordinal);

        // Entities off in the options: the client says so.
        var off = ClientOver(store, new DtClient.DurableTaskClientOptions { EnableEntitySupport = false });
        Assert.Contains("EnableEntitySupport=false", Assert.Throws<NotSupportedException>(() => off.Entities).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Entity_client_pages_entities_with_filters()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        foreach (var key in new[] { "a", "c" })
        {
            await client.Entities.SignalEntityAsync(new Dt.Entities.EntityInstanceId("counter", key), "set", 1, cancellation: Ct);
        }

        await client.Entities.SignalEntityAsync(new Dt.Entities.EntityInstanceId("other", "z"), "set", 1, cancellation: Ct);
        while (await store.TryLockEntityAsync(Lease, Ct) is { } batch)
        {
            await store.CompleteEntityAsync(batch, BatchResult(batch, "1"), Ct);
        }

        // b has only a backlog (a signal for later): transient, listed only when asked for.
        await client.Entities.SignalEntityAsync(
            new Dt.Entities.EntityInstanceId("counter", "b"), "set", 1, new Dt.Entities.SignalEntityOptions { SignalTime = new DateTimeOffset(Now.AddHours(1)) }, Ct);
        var pages = new List<Dt.Page<DtEntities.EntityMetadata>>();
        await foreach (var page in client.Entities.GetAllEntitiesAsync(new DtEntities.EntityQuery { InstanceIdStartsWith = "@counter@", PageSize = 1, IncludeTransient = true }).AsPages().WithCancellation(Ct))
        {
            pages.Add(page);
        }

        Assert.Equal(["@counter@a", "@counter@b", "@counter@c"], pages.SelectMany(p => p.Values).Select(e => e.Id.ToString()));
        Assert.True(pages.Take(2).All(p => p.ContinuationToken is not null));
        Assert.Equal(1, pages[1].Values[0].BacklogQueueSize);
        var withState = await ListAsync(client.Entities.GetAllEntitiesAsync<int>(new DtEntities.EntityQuery { InstanceIdStartsWith = "@counter@" }));
        Assert.Equal([("@counter@a", 1), ("@counter@c", 1)], withState.Select(e => (e.Id.ToString(), e.State)));
        var noState = await ListAsync(client.Entities.GetAllEntitiesAsync(new DtEntities.EntityQuery { IncludeState = false }));
        Assert.Equal(["@counter@a", "@counter@c", "@other@z"], noState.Select(e => e.Id.ToString()));
        Assert.All(noState, e => Assert.False(e.IncludesState));
        Assert.Empty(await ListAsync(client.Entities.GetAllEntitiesAsync(new DtEntities.EntityQuery { LastModifiedFrom = new DateTimeOffset(Now.AddSeconds(1)) })));
        Assert.Equal(3, (await ListAsync(client.Entities.GetAllEntitiesAsync(new DtEntities.EntityQuery { LastModifiedTo = new DateTimeOffset(Now.AddSeconds(1)) }))).Count);
        await Assert.ThrowsAsync<ArgumentException>(() => ListAsync(client.Entities.GetAllEntitiesAsync(new DtEntities.EntityQuery { PageSize = 0 })));
    }

    [Fact]
    public async Task Entity_client_cleans_what_the_request_asks_for()
    {
        var (store, _) = await NewStoreAsync();
        var client = ClientOver(store);
        var locked = new EntityInstanceId("counter", "orphan");
        await CreateRunningAsync(store, "holder");
        await AcquireLockAsync(store, "holder", "cs-1", locked);
        await WakeAsync(store, "holder", Actions.Complete(0, null));
        Assert.Equal("holder", (await client.Entities.GetEntityAsync(new Dt.Entities.EntityInstanceId("counter", "orphan"), cancellation: Ct))!.LockedBy);

        var nothing = await client.Entities.CleanEntityStorageAsync(new DtEntities.CleanEntityStorageRequest { RemoveEmptyEntities = true, ReleaseOrphanedLocks = false }, cancellation: Ct);
        Assert.Equal((0, 0), (nothing.EmptyEntitiesRemoved, nothing.OrphanedLocksReleased));
        var cleaned = await client.Entities.CleanEntityStorageAsync(cancellation: Ct);
        Assert.Equal((1, 1, (string?)null), (cleaned.EmptyEntitiesRemoved, cleaned.OrphanedLocksReleased, cleaned.ContinuationToken));
        Assert.Null(await client.Entities.GetEntityAsync(new Dt.Entities.EntityInstanceId("counter", "orphan"), cancellation: Ct));
    }

    [Fact]
    public async Task Client_is_the_SDK_client_the_engine_registers()
    {
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        services.AddDurableTaskEngine(_ => { });
        await using var provider = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(services);
        var client = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<DtClient.DurableTaskClient>(provider);

        var store = Assert.IsType<StoreDurableTaskClient>(client);
        Assert.IsType<StoreDurableEntityClient>(store.Entities);
        await client.ScheduleNewOrchestrationInstanceAsync("Workflow", new { Value = DayOfWeek.Monday }, new Dt.StartOrchestrationOptions("di"), Ct);
        Assert.Equal("""{"value":"Monday"}""", (await client.GetInstanceAsync("di", getInputsAndOutputs: true, Ct))!.SerializedInput);
    }

    private static async Task<DtClient.OrchestrationRuntimeStatus> StatusAsync(DtClient.DurableTaskClient client, string instanceId) =>
        (await client.GetInstanceAsync(instanceId, cancellation: Ct) ?? throw new Xunit.Sdk.XunitException($"{instanceId} does not exist")).RuntimeStatus;

    private static async Task<List<T>> ListAsync<T>(Dt.AsyncPageable<T> pageable)
        where T : notnull
    {
        var all = new List<T>();
        await foreach (var item in pageable.WithCancellation(Ct))
        {
            all.Add(item);
        }

        return all;
    }

    private static async Task<Dt.Page<T>> FirstPageAsync<T>(Dt.AsyncPageable<T> pageable)
        where T : notnull
    {
        await foreach (var page in pageable.AsPages().WithCancellation(Ct))
        {
            return page;
        }

        throw new Xunit.Sdk.XunitException("no page");
    }

    /// <summary>A value System.Text.Json cannot serialize (a reference cycle).</summary>
    private sealed class Cyclic
    {
        public Cyclic Self => this;
    }
}
