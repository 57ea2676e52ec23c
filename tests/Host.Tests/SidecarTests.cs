using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Host.Tests.Harness;
using Microsoft.DurableTask.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using static KataWorkflows.Host.Tests.Harness.Requests;

namespace KataWorkflows.Host.Tests;

/// <summary>The client-facing TaskHubSidecarService calls, as an SDK client makes them, over the Unix socket.</summary>
public sealed class SidecarTests
{
    private static string CreateInput(string sandboxId) => JsonSerializer.Serialize(new { sandboxId, config = Config(sandboxId) });

    [Fact]
    public async Task Start_get_wait_query_list_history_entities_and_purge()
    {
        await using var host = await TestHost.StartAsync();
        var api = host.Sidecar;
        var ct = host.Token;

        var started = await api.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "sc-1", Name = "CreateSandbox", Input = CreateInput("sb1") }, cancellationToken: ct);
        Assert.Equal("sc-1", started.InstanceId);
        var running = await api.WaitForInstanceStartAsync(new GetInstanceRequest { InstanceId = "sc-1" }, cancellationToken: ct);
        Assert.NotEqual(OrchestrationStatus.Pending, running.OrchestrationState.OrchestrationStatus);
        var done = await api.WaitForInstanceCompletionAsync(new GetInstanceRequest { InstanceId = "sc-1", GetInputsAndOutputs = true }, cancellationToken: ct);
        Assert.Equal(OrchestrationStatus.Completed, done.OrchestrationState.OrchestrationStatus);
        Assert.Equal("Ready", JsonDocument.Parse(done.OrchestrationState.Output).RootElement.GetProperty("sandbox").GetProperty("state").GetString());
        Assert.Equal("sb1", JsonDocument.Parse(done.OrchestrationState.Input).RootElement.GetProperty("sandboxId").GetString());

        var got = await api.GetInstanceAsync(new GetInstanceRequest { InstanceId = "sc-1" }, cancellationToken: ct);
        Assert.Equal((true, "CreateSandbox", (string?)null), (got.Exists, got.OrchestrationState.Name, got.OrchestrationState.Input));
        Assert.False((await api.GetInstanceAsync(new GetInstanceRequest { InstanceId = "nope" }, cancellationToken: ct)).Exists);

        await api.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "sc-2", Name = "CreateSandbox", Input = CreateInput("sb2") }, cancellationToken: ct);
        await api.WaitForInstanceCompletionAsync(new GetInstanceRequest { InstanceId = "sc-2" }, cancellationToken: ct);
        var query = await api.QueryInstancesAsync(new QueryInstancesRequest
        {
            Query = new InstanceQuery { InstanceIdPrefix = "sc-", RuntimeStatus = { OrchestrationStatus.Completed }, MaxInstanceCount = 10 },
        }, cancellationToken: ct);
        Assert.Equal(["sc-1", "sc-2"], query.OrchestrationState.Select(s => s.InstanceId).Order());

        var first = await api.ListInstanceIdsAsync(new ListInstanceIdsRequest { PageSize = 1, RuntimeStatus = { OrchestrationStatus.Completed } }, cancellationToken: ct);
        var second = await api.ListInstanceIdsAsync(new ListInstanceIdsRequest { PageSize = 1, RuntimeStatus = { OrchestrationStatus.Completed }, LastInstanceKey = first.LastInstanceKey }, cancellationToken: ct);
        var third = await api.ListInstanceIdsAsync(new ListInstanceIdsRequest { PageSize = 1, RuntimeStatus = { OrchestrationStatus.Completed }, LastInstanceKey = second.LastInstanceKey }, cancellationToken: ct);
        Assert.Equal(["sc-1", "sc-2"], first.InstanceIds.Concat(second.InstanceIds).Order());
        Assert.Empty(third.InstanceIds);
        Assert.Null(third.LastInstanceKey);

        using var stream = api.StreamInstanceHistory(new StreamInstanceHistoryRequest { InstanceId = "sc-1" }, cancellationToken: ct);
        var history = new List<HistoryEvent>();
        await foreach (var chunk in stream.ResponseStream.ReadAllAsync(ct))
        {
            history.AddRange(chunk.Events);
        }

        Assert.Equal(HistoryEvent.EventTypeOneofCase.ExecutionStarted, history.First(e => e.EventTypeCase != HistoryEvent.EventTypeOneofCase.OrchestratorStarted).EventTypeCase);
        Assert.Contains(history, e => e.TaskScheduled?.Name == "sandbox.startVM");
        Assert.Equal(HistoryEvent.EventTypeOneofCase.ExecutionCompleted, history.Last(e => e.EventTypeCase != HistoryEvent.EventTypeOneofCase.OrchestratorCompleted).EventTypeCase);

        var entity = await api.GetEntityAsync(new GetEntityRequest { InstanceId = "@sandbox@sb1", IncludeState = true }, cancellationToken: ct);
        Assert.True(entity.Exists);
        Assert.Equal("sb1", JsonDocument.Parse(entity.Entity.SerializedState).RootElement.GetProperty("id").GetString());
        Assert.False((await api.GetEntityAsync(new GetEntityRequest { InstanceId = "@sandbox@nope" }, cancellationToken: ct)).Exists);
        var entities = await api.QueryEntitiesAsync(new QueryEntitiesRequest { Query = new EntityQuery { InstanceIdStartsWith = "@sandbox@", PageSize = 10 } }, cancellationToken: ct);
        Assert.Equal(["@sandbox@sb1", "@sandbox@sb2"], entities.Entities.Select(e => e.InstanceId).Order());

        var purged = await api.PurgeInstancesAsync(new PurgeInstancesRequest { InstanceId = "sc-1" }, cancellationToken: ct);
        Assert.Equal(1, purged.DeletedInstanceCount);
        Assert.False((await api.GetInstanceAsync(new GetInstanceRequest { InstanceId = "sc-1" }, cancellationToken: ct)).Exists);
        var batch = await api.PurgeInstancesAsync(new PurgeInstancesRequest { InstanceBatch = new InstanceBatch { InstanceIds = { "sc-2", "nope" } } }, cancellationToken: ct);
        Assert.Equal(1, batch.DeletedInstanceCount);
    }

    [Fact]
    public async Task Suspend_resume_raise_terminate_and_restart_a_running_instance()
    {
        await using var host = await TestHost.StartAsync("--KataWorkflows:Faults:Spec=sandbox.startVM:hang:1:sandbox=sb-hang");
        var api = host.Sidecar;
        var ct = host.Token;
        await api.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "h-1", Name = "CreateSandbox", Input = CreateInput("sb-hang") }, cancellationToken: ct);
        await api.WaitForInstanceStartAsync(new GetInstanceRequest { InstanceId = "h-1" }, cancellationToken: ct);

        await api.SuspendInstanceAsync(new SuspendRequest { InstanceId = "h-1", Reason = "drill" }, cancellationToken: ct);
        await WaitForStatusAsync(host, "h-1", OrchestrationStatus.Suspended);
        await api.ResumeInstanceAsync(new ResumeRequest { InstanceId = "h-1" }, cancellationToken: ct);
        await WaitForStatusAsync(host, "h-1", OrchestrationStatus.Running);
        await api.RaiseEventAsync(new RaiseEventRequest { InstanceId = "h-1", Name = "poke", Input = "{\"a\":1}" }, cancellationToken: ct);
        var badJson = await Assert.ThrowsAsync<RpcException>(async () => await api.RaiseEventAsync(new RaiseEventRequest { InstanceId = "h-1", Name = "poke", Input = "{oops" }, cancellationToken: ct));
        Assert.Equal(StatusCode.InvalidArgument, badJson.StatusCode);
        Assert.StartsWith("input:", badJson.Status.Detail, StringComparison.Ordinal);

        await api.TerminateInstanceAsync(new TerminateRequest { InstanceId = "h-1", Output = "\"stopped by test\"" }, cancellationToken: ct);
        var terminated = await api.WaitForInstanceCompletionAsync(new GetInstanceRequest { InstanceId = "h-1", GetInputsAndOutputs = true }, cancellationToken: ct);
        Assert.Equal((OrchestrationStatus.Terminated, "\"stopped by test\""), (terminated.OrchestrationState.OrchestrationStatus, terminated.OrchestrationState.Output));

        var restarted = await api.RestartInstanceAsync(new RestartInstanceRequest { InstanceId = "h-1", RestartWithNewInstanceId = true }, cancellationToken: ct);
        Assert.NotEqual("h-1", restarted.InstanceId);
        var again = await api.GetInstanceAsync(new GetInstanceRequest { InstanceId = restarted.InstanceId, GetInputsAndOutputs = true }, cancellationToken: ct);
        Assert.Equal(("CreateSandbox", "sb-hang"), (again.OrchestrationState.Name, JsonDocument.Parse(again.OrchestrationState.Input).RootElement.GetProperty("sandboxId").GetString()));
        await api.TerminateInstanceAsync(new TerminateRequest { InstanceId = restarted.InstanceId }, cancellationToken: ct);
    }

    [Fact]
    public async Task Bad_sidecar_requests_map_to_status_codes()
    {
        await using var host = await TestHost.StartAsync();
        var api = host.Sidecar;
        var ct = host.Token;
        await api.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "d-1", Name = "CreateSandbox", Input = CreateInput("sb1") }, cancellationToken: ct);
        await api.WaitForInstanceCompletionAsync(new GetInstanceRequest { InstanceId = "d-1" }, cancellationToken: ct);

        async Task<RpcException> Fails(Func<Task> call) => await Assert.ThrowsAsync<RpcException>(call);
        var duplicate = await Fails(async () => await api.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "d-1", Name = "CreateSandbox", Input = CreateInput("sb1") }, cancellationToken: ct));
        var noName = await Fails(async () => await api.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "d-2" }, cancellationToken: ct));
        var badInput = await Fails(async () => await api.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "d-3", Name = "CreateSandbox", Input = "{" }, cancellationToken: ct));
        var waitMissing = await Fails(async () => await api.WaitForInstanceCompletionAsync(new GetInstanceRequest { InstanceId = "nope" }, cancellationToken: ct));
        var suspendDone = await Fails(async () => await api.SuspendInstanceAsync(new SuspendRequest { InstanceId = "d-1" }, cancellationToken: ct));
        var badEntity = await Fails(async () => await api.GetEntityAsync(new GetEntityRequest { InstanceId = "no-at-signs" }, cancellationToken: ct));
        var recursive = await Fails(async () => await api.PurgeInstancesAsync(new PurgeInstancesRequest { InstanceId = "d-1", Recursive = true }, cancellationToken: ct));
        var badPage = await Fails(async () => await api.ListInstanceIdsAsync(new ListInstanceIdsRequest { PageSize = -1 }, cancellationToken: ct));
        var badEntityPage = await Fails(async () => await api.QueryEntitiesAsync(new QueryEntitiesRequest { Query = new EntityQuery { PageSize = 0 } }, cancellationToken: ct));
        var workers = await Fails(async () =>
        {
            using var items = api.GetWorkItems(new GetWorkItemsRequest(), cancellationToken: ct);
            await items.ResponseStream.MoveNext(ct);
        });

        Assert.Equal(StatusCode.AlreadyExists, duplicate.StatusCode);
        Assert.Equal((StatusCode.InvalidArgument, "name: must not be empty"), (noName.StatusCode, noName.Status.Detail));
        Assert.StartsWith("input:", badInput.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.NotFound, waitMissing.StatusCode);
        Assert.Equal(StatusCode.FailedPrecondition, suspendDone.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, badEntity.StatusCode);
        Assert.Equal(StatusCode.Unimplemented, recursive.StatusCode);
        Assert.Equal((StatusCode.InvalidArgument, "pageSize: must be between 0 and 1000, got -1"), (badPage.StatusCode, badPage.Status.Detail));
        Assert.Equal((StatusCode.InvalidArgument, "query.pageSize: must be between 1 and 1000, got 0"), (badEntityPage.StatusCode, badEntityPage.Status.Detail));
        Assert.Equal(StatusCode.Unimplemented, workers.StatusCode);
        Assert.Contains("remote workers", workers.Status.Detail, StringComparison.Ordinal);

        // A terminal instance may be replaced when the reuse policy says so.
        var replaced = await api.StartInstanceAsync(new CreateInstanceRequest
        {
            InstanceId = "d-1",
            Name = "StatusProbe",
            OrchestrationIdReusePolicy = new OrchestrationIdReusePolicy { ReplaceableStatus = { OrchestrationStatus.Completed } },
        }, cancellationToken: ct);
        Assert.Equal("d-1", replaced.InstanceId);
        Assert.Equal("StatusProbe", (await api.GetInstanceAsync(new GetInstanceRequest { InstanceId = "d-1" }, cancellationToken: ct)).OrchestrationState.Name);
        await api.TerminateInstanceAsync(new TerminateRequest { InstanceId = "d-1" }, cancellationToken: ct);
    }

    [Fact]
    public async Task Entities_are_signalled_and_cleaned()
    {
        await using var host = await TestHost.StartAsync();
        var api = host.Sidecar;
        var ct = host.Token;
        await host.Sandboxes.CreateSandboxAsync(Create("sb-x"), cancellationToken: ct);
        await host.Sandboxes.DeleteSandboxAsync(Call("sb-x"), cancellationToken: ct);

        await api.SignalEntityAsync(new SignalEntityRequest
        {
            InstanceId = "@probe@a",
            Name = "add",
            Input = "1",
            ScheduledTime = Timestamp.FromDateTime(DateTime.UtcNow.AddHours(1)),
        }, cancellationToken: ct);
        var transient = await api.QueryEntitiesAsync(new QueryEntitiesRequest { Query = new EntityQuery { InstanceIdStartsWith = "@probe@", IncludeTransient = true, PageSize = 10 } }, cancellationToken: ct);
        var cleaned = await api.CleanEntityStorageAsync(new CleanEntityStorageRequest { RemoveEmptyEntities = true, ReleaseOrphanedLocks = true }, cancellationToken: ct);
        var sandboxes = await api.QueryEntitiesAsync(new QueryEntitiesRequest { Query = new EntityQuery { InstanceIdStartsWith = "@sandbox@", IncludeTransient = true, PageSize = 10 } }, cancellationToken: ct);
        var kept = await api.QueryEntitiesAsync(new QueryEntitiesRequest { Query = new EntityQuery { InstanceIdStartsWith = "@probe@", IncludeTransient = true, PageSize = 10 } }, cancellationToken: ct);

        Assert.Equal(["@probe@a"], transient.Entities.Select(e => e.InstanceId));
        Assert.Equal(1, transient.Entities[0].BacklogQueueSize);

        // The deleted sandbox's entity is gone already; the probe waits on its signal, so cleaning keeps it.
        Assert.Empty(sandboxes.Entities);
        Assert.Equal((0, 0), (cleaned.EmptyEntitiesRemoved, cleaned.OrphanedLocksReleased));
        Assert.Equal(["@probe@a"], kept.Entities.Select(e => e.InstanceId));
    }

    private static async Task WaitForStatusAsync(TestHost host, string instanceId, OrchestrationStatus status)
    {
        var store = host.Services.GetRequiredService<IOrchestrationStore>();
        while (true)
        {
            var changed = store.WaitForInstanceChangeAsync(instanceId, host.Token);
            var got = await host.Sidecar.GetInstanceAsync(new GetInstanceRequest { InstanceId = instanceId }, cancellationToken: host.Token);
            if (got.OrchestrationState.OrchestrationStatus == status)
            {
                return;
            }

            await changed;
        }
    }
}
