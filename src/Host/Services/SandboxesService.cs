using System.Diagnostics;
using System.Text.Json;
using Grpc.Core;
using KataWorkflows.Activities.Agents;
using KataWorkflows.Activities.Drivers;
using KataWorkflows.Engine.Serialization;
using KataWorkflows.Host.Telemetry;
using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;
using KataWorkflows.Protocol.V1;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Host.Services;

/// <summary>
/// <c>kataworkflows.v1.Sandboxes</c>: each mutating call starts its durable run through <see cref="SandboxClient"/>
/// (and waits for it when asked); reads return committed records, or ask the sandbox's agent for live data.
/// </summary>
internal sealed partial class SandboxesService : Sandboxes.SandboxesBase
{
    private readonly SandboxClient _sandboxes;
    private readonly DataConverter _converter;
    private readonly IDriverResolver _drivers;
    private readonly RunWatcher _watcher;
    private readonly SandboxConfigDefaults _defaults;

    /// <summary>Creates the service.</summary>
    public SandboxesService(SandboxClient sandboxes, DataConverter converter, IDriverResolver drivers, RunWatcher watcher, SandboxConfigDefaults defaults)
    {
        _sandboxes = sandboxes;
        _converter = converter;
        _drivers = drivers;
        _watcher = watcher;
        _defaults = defaults;
    }

    /// <inheritdoc />
    public override Task<CallResult> CreateSandbox(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.CreateSandbox, request, context);

    /// <inheritdoc />
    public override Task<CallResult> RunSandbox(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.RunSandbox, request, context);

    /// <inheritdoc />
    public override Task<CallResult> StartSandbox(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.StartSandbox, request, context);

    /// <inheritdoc />
    public override Task<CallResult> StopSandbox(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.StopSandbox, request, context);

    /// <inheritdoc />
    public override Task<CallResult> DeleteSandbox(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.DeleteSandbox, request, context);

    /// <inheritdoc />
    public override Task<CallResult> PauseSandbox(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.PauseSandbox, request, context);

    /// <inheritdoc />
    public override Task<CallResult> ResumeSandbox(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.ResumeSandbox, request, context);

    /// <inheritdoc />
    public override Task<CallResult> CreateContainer(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.CreateContainer, request, context);

    /// <inheritdoc />
    public override Task<CallResult> StartContainer(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.StartContainer, request, context);

    /// <inheritdoc />
    public override Task<CallResult> StopContainer(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.StopContainer, request, context);

    /// <inheritdoc />
    public override Task<CallResult> DeleteContainer(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.DeleteContainer, request, context);

    /// <inheritdoc />
    public override Task<CallResult> KillContainer(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.KillContainer, request, context);

    /// <inheritdoc />
    public override Task<CallResult> UpdateContainer(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.UpdateContainer, request, context);

    /// <inheritdoc />
    public override Task<CallResult> PauseContainer(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.PauseContainer, request, context);

    /// <inheritdoc />
    public override Task<CallResult> ResumeContainer(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.ResumeContainer, request, context);

    /// <inheritdoc />
    public override Task<CallResult> EnterContainer(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.EnterContainer, request, context);

    /// <inheritdoc />
    public override Task<CallResult> AddDevice(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.AddDevice, request, context);

    /// <inheritdoc />
    public override Task<CallResult> AddInterface(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.AddInterface, request, context);

    /// <inheritdoc />
    public override Task<CallResult> RemoveInterface(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.RemoveInterface, request, context);

    /// <inheritdoc />
    public override Task<CallResult> UpdateRoutes(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.UpdateRoutes, request, context);

    /// <inheritdoc />
    public override Task<CallResult> CleanupContainer(SandboxCall request, ServerCallContext context) => MutateAsync(Ops.CleanupContainer, request, context);

    /// <inheritdoc />
    public override async Task<StatusReply> StatusSandbox(SandboxRef request, ServerCallContext context)
    {
        Tag(request.SandboxId);
        var status = await _sandboxes.StatusAsync(request.SandboxId, context.CancellationToken);
        return new StatusReply { StatusJson = Json(status) };
    }

    /// <inheritdoc />
    public override async Task<StatusReply> StatusContainer(SandboxRef request, ServerCallContext context)
    {
        Tag(request.SandboxId);
        var status = await _sandboxes.StatusContainerAsync(request.SandboxId, request.ContainerId, context.CancellationToken);
        return new StatusReply { StatusJson = Json(status) };
    }

    /// <inheritdoc />
    public override async Task<ListReply> ListSandbox(ListRequest request, ServerCallContext context)
    {
        var reply = new ListReply();
        foreach (var status in (await _sandboxes.ListAsync(context.CancellationToken)).OrderBy(s => s.Id, StringComparer.Ordinal))
        {
            reply.SandboxesJson.Add(Json(status));
        }

        return reply;
    }

    /// <inheritdoc />
    public override async Task<StatsReply> StatsSandbox(SandboxRef request, ServerCallContext context)
    {
        Tag(request.SandboxId);
        var record = await _sandboxes.StatsSandboxTargetAsync(request.SandboxId, context.CancellationToken);
        var agent = _drivers.GetAgent(record.Config.AgentType);
        var containers = new List<ContainerStatsReply>();
        foreach (var container in record.Containers)
        {
            containers.Add(new ContainerStatsReply(container.Id, await agent.StatsContainerAsync(record.Id, container.Id, context.CancellationToken)));
        }

        return new StatsReply { StatsJson = Json(new SandboxStatsReply(record.Id, containers)) };
    }

    /// <inheritdoc />
    public override async Task<StatsReply> StatsContainer(SandboxRef request, ServerCallContext context)
    {
        Tag(request.SandboxId);
        var (record, container) = await _sandboxes.StatsContainerTargetAsync(request.SandboxId, request.ContainerId, context.CancellationToken);
        var agent = _drivers.GetAgent(record.Config.AgentType);
        var stats = await agent.StatsContainerAsync(record.Id, container.Id, context.CancellationToken);
        return new StatsReply { StatsJson = Json(new ContainerStatsReply(container.Id, stats)) };
    }

    /// <inheritdoc />
    public override async Task<ProcessListReply> ProcessListContainer(SandboxRef request, ServerCallContext context)
    {
        Tag(request.SandboxId);
        var (record, container) = await _sandboxes.ProcessListTargetAsync(request.SandboxId, request.ContainerId, context.CancellationToken);
        var agent = _drivers.GetAgent(record.Config.AgentType);
        var processes = await agent.ListProcessesAsync(record.Id, container.Id, context.CancellationToken);
        return new ProcessListReply { ProcessesJson = Json(processes) };
    }

    /// <inheritdoc />
    public override async Task<JsonReply> ListInterfaces(SandboxRef request, ServerCallContext context)
    {
        var (record, agent) = await LiveAsync(request.SandboxId, context.CancellationToken);
        return new JsonReply { Json = Json(await agent.ListInterfacesAsync(record.Id, context.CancellationToken)) };
    }

    /// <inheritdoc />
    public override async Task<JsonReply> ListRoutes(SandboxRef request, ServerCallContext context)
    {
        var (record, agent) = await LiveAsync(request.SandboxId, context.CancellationToken);
        return new JsonReply { Json = Json(await agent.ListRoutesAsync(record.Id, context.CancellationToken)) };
    }

    /// <inheritdoc />
    public override Task WatchRun(WatchRunRequest request, IServerStreamWriter<RunEvent> responseStream, ServerCallContext context)
    {
        if (string.IsNullOrEmpty(request.InstanceId))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "instance_id: must not be empty"));
        }

        Activity.Current?.SetTag(HostTelemetry.InstanceIdTag, request.InstanceId);
        return _watcher.WatchAsync(request.InstanceId, e => responseStream.WriteAsync(e, context.CancellationToken), context.CancellationToken);
    }

    private async Task<CallResult> MutateAsync(string operation, SandboxCall call, ServerCallContext context)
    {
        Tag(call.SandboxId);
        var request = ParseArguments(call, withConfigDefaults: operation is Ops.CreateSandbox or Ops.RunSandbox);
        var requestId = string.IsNullOrEmpty(call.RequestId) ? null : call.RequestId;
        var instanceId = await _sandboxes.StartAsync(operation, request, requestId, context.CancellationToken);
        Activity.Current?.SetTag(HostTelemetry.InstanceIdTag, instanceId);
        var result = new CallResult { InstanceId = instanceId };
        if (!call.Wait)
        {
            return result;
        }

        // The run's output is already SandboxOperationResult JSON written with this converter: passed on as stored.
        var run = await _sandboxes.WaitCompletedAsync(instanceId, context.CancellationToken);
        result.Status = run.RuntimeStatus.ToString();
        result.ResultJson = run.SerializedOutput ?? Json(new SandboxOperationResult());
        return result;
    }

    private SandboxRequest ParseArguments(SandboxCall call, bool withConfigDefaults)
    {
        SandboxRequest request;
        if (string.IsNullOrWhiteSpace(call.ArgumentsJson))
        {
            request = new SandboxRequest();
        }
        else
        {
            try
            {
                request = JsonSerializer.Deserialize<SandboxRequest>(call.ArgumentsJson, _converter.Options)
                    ?? throw Invalid("arguments_json", "must be a JSON object, not null");
                if (withConfigDefaults && request.Config is { } config)
                {
                    using var document = JsonDocument.Parse(call.ArgumentsJson);
                    var configJson = document.RootElement.EnumerateObject()
                        .FirstOrDefault(p => string.Equals(p.Name, "config", StringComparison.OrdinalIgnoreCase)).Value;
                    request = request with { Config = _defaults.Apply(config, configJson) };
                }
            }
            catch (JsonException ex)
            {
                throw Invalid("arguments_json", $"is not valid: {ex.Message}");
            }
        }

        if (!string.IsNullOrEmpty(request.SandboxId) && request.SandboxId != call.SandboxId)
        {
            throw Invalid("arguments_json.sandboxId", $"'{Shown(request.SandboxId)}' differs from sandbox_id '{Shown(call.SandboxId)}'");
        }

        return request with { SandboxId = call.SandboxId };
    }

    private async Task<(SandboxRecord Record, IAgent Agent)> LiveAsync(string sandboxId, CancellationToken cancellationToken)
    {
        Tag(sandboxId);
        var record = await _sandboxes.GetRecordAsync(sandboxId, cancellationToken)
            ?? throw new SandboxCallException(SandboxErrorKind.NotFound, $"Sandbox {sandboxId} does not exist");
        if (record.State == SandboxState.Stopped)
        {
            // Live reads ask the guest's agent; a stopped sandbox has no VM to ask.
            throw new SandboxCallException(SandboxErrorKind.FailedPrecondition, $"Sandbox {sandboxId} is stopped: its agent cannot be reached");
        }

        return (record, _drivers.GetAgent(record.Config.AgentType));
    }

    private string Json<T>(T value) => JsonSerializer.Serialize(value, _converter.Options);

    // A value quoted in a message is cut, as SandboxIds cuts an id: a 10,000-character id is not sent back whole.
    private static string Shown(string value) => value.Length > 40 ? value[..40] + "…" : value;

    private static void Tag(string sandboxId) => Activity.Current?.SetTag(HostTelemetry.SandboxIdTag, sandboxId);

    private static SandboxCallException Invalid(string field, string message) =>
        new(SandboxErrorKind.InvalidArgument, $"{field}: {message}");

    private sealed record ContainerStatsReply(string ContainerId, ContainerStats Stats);

    private sealed record SandboxStatsReply(string SandboxId, IReadOnlyList<ContainerStatsReply> Containers);
}
