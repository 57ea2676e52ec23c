using KataWorkflows.Engine;
using KataWorkflows.Engine.Execution;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;
using EventType = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Storage.Tests;

public abstract partial class OrchestrationStoreConformance
{
    [Fact]
    public async Task Create_makes_a_pending_instance_whose_start_message_is_delivered_with_empty_history()
    {
        var (store, _) = await NewStoreAsync();
        var request = Instance("order-1", "Checkout", "{\"sku\":\"A\"}");

        await store.CreateInstanceAsync(request, Ct);

        var instance = await GetAsync(store, "order-1", includePayloads: true);
        Assert.Equal(OrchestrationRuntimeStatus.Pending, instance.Status);
        Assert.Equal("Checkout", instance.Name);
        Assert.Equal(request.Metadata.ExecutionId, instance.ExecutionId);
        Assert.Equal("{\"sku\":\"A\"}", instance.SerializedInput);
        var workItem = await LockAsync(store, "order-1");
        Assert.Empty(workItem.PastEvents);
        Assert.Equal(request.ExecutionStarted, Assert.Single(workItem.NewMessages));
        Assert.Equal(OrchestrationRuntimeStatus.Pending, workItem.Metadata.Status);
        await AssertNoOrchestrationWorkAsync(store);
    }

    [Fact]
    public async Task Create_with_the_id_of_a_running_instance_throws_and_changes_nothing()
    {
        var (store, _) = await NewStoreAsync();
        await CreateRunningAsync(store, "dup");
        var before = await store.GetHistoryAsync("dup", null, Ct);

        var error = await Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => store.CreateInstanceAsync(Instance("dup", replaceTerminal: true), Ct));

        Assert.Equal("dup", error.InstanceId);
        Assert.Equal(OrchestrationRuntimeStatus.Running, error.Status);
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await GetAsync(store, "dup")).Status);
        Assert.Equal(before, await store.GetHistoryAsync("dup", null, Ct));
        await AssertNoOrchestrationWorkAsync(store);
    }

    [Fact]
    public async Task Create_with_the_id_of_a_pending_instance_throws()
    {
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "dup");

        var error = await Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => store.CreateInstanceAsync(Instance("dup"), Ct));

        Assert.Equal(OrchestrationRuntimeStatus.Pending, error.Status);
        var workItem = await LockAsync(store, "dup");
        Assert.Single(workItem.NewMessages);
    }

    [Fact]
    public async Task Create_with_the_id_of_a_terminal_instance_throws_unless_replacing_is_asked()
    {
        var (store, _) = await NewStoreAsync();
        await CreateCompletedAsync(store, "again");
        var old = await GetAsync(store, "again");

        var error = await Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => store.CreateInstanceAsync(Instance("again"), Ct));

        Assert.Equal(OrchestrationRuntimeStatus.Completed, error.Status);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await GetAsync(store, "again")).Status);
        Assert.NotEmpty(await store.GetHistoryAsync("again", old.ExecutionId, Ct));
        await AssertNoOrchestrationWorkAsync(store);
    }

    [Fact]
    public async Task Create_replacing_a_terminal_instance_starts_over_and_drops_the_old_history()
    {
        var (store, _) = await NewStoreAsync();
        await CreateCompletedAsync(store, "again");
        var old = await GetAsync(store, "again");
        var replacement = Instance("again", "Other", "2", replaceTerminal: true);

        await store.CreateInstanceAsync(replacement, Ct);

        var instance = await GetAsync(store, "again", includePayloads: true);
        Assert.Equal(OrchestrationRuntimeStatus.Pending, instance.Status);
        Assert.Equal("Other", instance.Name);
        Assert.Equal(replacement.Metadata.ExecutionId, instance.ExecutionId);
        Assert.Null(instance.SerializedOutput);
        Assert.Empty(await store.GetHistoryAsync("again", old.ExecutionId, Ct));
        Assert.Empty(await store.GetHistoryAsync("again", null, Ct));
        var workItem = await LockAsync(store, "again");
        Assert.Empty(workItem.PastEvents);
        Assert.Equal(replacement.ExecutionStarted, Assert.Single(workItem.NewMessages));
    }

    [Fact]
    public async Task Concurrent_creates_of_one_id_let_exactly_one_win()
    {
        var (store, _) = await NewStoreAsync();
        var requests = Enumerable.Range(0, 8).Select(i => Instance("race", input: i.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToArray();

        var attempts = requests.Select(r => Task.Run(() => store.CreateInstanceAsync(r, Ct), Ct)).ToArray();
        var outcomes = await Task.WhenAll(attempts.Select(async t =>
        {
            try
            {
                await t;
                return (Exception?)null;
            }
            catch (InstanceAlreadyExistsException ex)
            {
                return ex;
            }
        }));

        Assert.Single(outcomes, o => o is null);
        var winner = requests[Array.FindIndex(outcomes, o => o is null)];
        var instance = await GetAsync(store, "race", includePayloads: true);
        Assert.Equal(winner.Metadata.ExecutionId, instance.ExecutionId);
        var workItem = await LockAsync(store, "race");
        Assert.Equal(winner.ExecutionStarted, Assert.Single(workItem.NewMessages));
        await AssertNoOrchestrationWorkAsync(store);
    }

    [Fact]
    public async Task Concurrent_replacements_of_a_terminal_instance_let_exactly_one_win()
    {
        var (store, _) = await NewStoreAsync();
        await CreateCompletedAsync(store, "race");
        var requests = Enumerable.Range(0, 8).Select(_ => Instance("race", replaceTerminal: true)).ToArray();

        var outcomes = await Task.WhenAll(requests.Select(r => Task.Run(
            async () =>
            {
                try
                {
                    await store.CreateInstanceAsync(r, Ct);
                    return true;
                }
                catch (InstanceAlreadyExistsException)
                {
                    return false;
                }
            },
            Ct)));

        Assert.Single(outcomes, o => o);
        var workItem = await LockAsync(store, "race");
        Assert.Equal(requests[Array.IndexOf(outcomes, true)].ExecutionStarted, Assert.Single(workItem.NewMessages));
        await AssertNoOrchestrationWorkAsync(store);
    }

    [Fact]
    public async Task A_scheduled_start_is_delivered_only_at_its_start_time()
    {
        var (store, _) = await NewStoreAsync();
        var startAt = Now.AddMinutes(5);

        await store.CreateInstanceAsync(Instance("later", startAt: startAt), Ct);

        Assert.Equal(startAt, (await GetAsync(store, "later")).ScheduledStartAt);
        await AssertNoOrchestrationWorkAsync(store);
        Time.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromMilliseconds(1));
        await AssertNoOrchestrationWorkAsync(store);
        Time.Advance(TimeSpan.FromMilliseconds(1));
        var workItem = await LockAsync(store, "later");
        Assert.Equal(EventType.ExecutionStarted, Assert.Single(workItem.NewMessages).EventTypeCase);
    }

    [Fact]
    public async Task Events_sent_to_a_pending_instance_wait_for_its_start_and_follow_it()
    {
        var (store, _) = await NewStoreAsync();
        await store.CreateInstanceAsync(Instance("later", startAt: Now.AddMinutes(1)), Ct);

        Assert.True(await store.SendMessageAsync("later", Messages.Event("early"), Ct));

        await AssertNoOrchestrationWorkAsync(store);
        Time.Advance(TimeSpan.FromMinutes(1));
        var workItem = await LockAsync(store, "later");
        Assert.Equal([EventType.ExecutionStarted, EventType.EventRaised], Kinds(workItem.NewMessages));
    }

    [Fact]
    public async Task Sending_to_a_missing_instance_throws_and_to_a_terminal_one_returns_false()
    {
        var (store, _) = await NewStoreAsync();
        await CreateCompletedAsync(store, "done");

        await Assert.ThrowsAsync<InstanceNotFoundException>(() => store.SendMessageAsync("nobody", Messages.Event("e"), Ct));
        Assert.False(await store.SendMessageAsync("done", Messages.Event("e"), Ct));

        await AssertNoOrchestrationWorkAsync(store);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await GetAsync(store, "done")).Status);
    }

    [Fact]
    public async Task Terminating_a_pending_instance_terminates_it_without_running_it()
    {
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "victim");

        Assert.True(await store.SendMessageAsync("victim", Messages.Terminate("\"stop\""), Ct));
        var workItem = await LockAsync(store, "victim");
        Assert.Equal([EventType.ExecutionStarted, EventType.ExecutionTerminated], Kinds(workItem.NewMessages));
        await RunEpisodeAsync(store, workItem);

        var instance = await GetAsync(store, "victim", includePayloads: true);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, instance.Status);
        Assert.Equal("\"stop\"", instance.SerializedOutput);
        Assert.NotNull(instance.CompletedAt);
        Assert.Equal(
            [EventType.OrchestratorStarted, EventType.ExecutionStarted, EventType.ExecutionTerminated, EventType.ExecutionCompleted, EventType.OrchestratorCompleted],
            Kinds(await store.GetHistoryAsync("victim", null, Ct)));
        Assert.False(await store.SendMessageAsync("victim", Messages.Event("late"), Ct));
        await AssertNoOrchestrationWorkAsync(store);
    }

    [Fact]
    public async Task Terminating_an_instance_whose_start_is_scheduled_later_terminates_it_now()
    {
        var (store, _) = await NewStoreAsync();
        await store.CreateInstanceAsync(Instance("later", startAt: Now.AddHours(1)), Ct);

        await store.SendMessageAsync("later", Messages.Terminate(), Ct);
        var workItem = await LockAsync(store, "later");
        Assert.Equal(EventType.ExecutionTerminated, Assert.Single(workItem.NewMessages).EventTypeCase);
        await RunEpisodeAsync(store, workItem);

        Assert.Equal(OrchestrationRuntimeStatus.Terminated, (await GetAsync(store, "later")).Status);
        Time.Advance(TimeSpan.FromHours(2));
        await AssertNoOrchestrationWorkAsync(store);
    }

    [Fact]
    public async Task A_suspended_instance_gets_no_messages_until_it_is_resumed()
    {
        var (store, _) = await NewStoreAsync();
        await CreateRunningAsync(store, "nap");

        await store.SendMessageAsync("nap", Messages.Suspend(), Ct);
        var suspend = await LockAsync(store, "nap");
        Assert.Equal(EventType.ExecutionSuspended, Assert.Single(suspend.NewMessages).EventTypeCase);
        await RunEpisodeAsync(store, suspend);
        Assert.Equal(OrchestrationRuntimeStatus.Suspended, (await GetAsync(store, "nap")).Status);

        await store.SendMessageAsync("nap", Messages.Event("held", "1"), Ct);
        await AssertNoOrchestrationWorkAsync(store);
        Time.Advance(TimeSpan.FromHours(1));
        await AssertNoOrchestrationWorkAsync(store);

        await store.SendMessageAsync("nap", Messages.Resume(), Ct);
        var resumed = await LockAsync(store, "nap");
        Assert.Equal([EventType.EventRaised, EventType.ExecutionResumed], Kinds(resumed.NewMessages));
        await RunEpisodeAsync(store, resumed);
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await GetAsync(store, "nap")).Status);
    }

    [Fact]
    public async Task A_suspended_instance_can_be_terminated()
    {
        var (store, _) = await NewStoreAsync();
        await CreateRunningAsync(store, "nap");
        await store.SendMessageAsync("nap", Messages.Suspend(), Ct);
        await RunNextEpisodeAsync(store, "nap");

        await store.SendMessageAsync("nap", Messages.Terminate("\"bye\""), Ct);
        var workItem = await LockAsync(store, "nap");
        Assert.Contains(workItem.NewMessages, m => m.ExecutionTerminated is not null);
        await RunEpisodeAsync(store, workItem);

        Assert.Equal(OrchestrationRuntimeStatus.Terminated, (await GetAsync(store, "nap")).Status);
        await AssertNoOrchestrationWorkAsync(store);
    }

    [Fact]
    public async Task Get_instance_returns_null_for_a_missing_instance()
    {
        var (store, _) = await NewStoreAsync();

        Assert.Null(await store.GetInstanceAsync("nobody", includePayloads: true, Ct));
        Assert.Empty(await store.GetHistoryAsync("nobody", null, Ct));
    }

    [Fact]
    public async Task Payloads_are_returned_only_when_asked_for()
    {
        var (store, _) = await NewStoreAsync();
        await CreateAsync(store, "p", input: "{\"x\":1}");
        var workItem = await LockAsync(store, "p");
        var response = new OrchestratorResponse { InstanceId = "p", CustomStatus = "\"busy\"" };
        var checkpoint = ActionApplier.Apply(workItem, ActionApplier.OpenEpisode(workItem, Now), response, Now);
        await store.CompleteOrchestrationAsync(workItem, checkpoint, Ct);

        var bare = await GetAsync(store, "p");
        var full = await GetAsync(store, "p", includePayloads: true);

        Assert.Null(bare.SerializedInput);
        Assert.Null(bare.SerializedCustomStatus);
        Assert.Equal("{\"x\":1}", full.SerializedInput);
        Assert.Equal("\"busy\"", full.SerializedCustomStatus);
    }
}
