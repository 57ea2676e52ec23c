using System.Text.RegularExpressions;
using DurableTask.Core.Exceptions;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Client.Entities;
using Microsoft.DurableTask.Entities;
using SdkDataConverter = KataWorkflows.Engine.Serialization.SdkDataConverter;

namespace KataWorkflows.Orchestrations.Client;

/// <summary>
/// Starts sandbox calls as runs and reads sandbox records. A call with a request id always maps to the same
/// instance id, so a retried request joins the run already made instead of running twice.
/// </summary>
public sealed partial class SandboxClient
{
    /// <summary>The longest request id accepted.</summary>
    public const int MaxRequestIdLength = 64;

    private readonly DurableTaskClient _client;
    private readonly DataConverter _converter;

    /// <summary>
    /// Creates a client over the Durable Task SDK's client (the engine's <c>StoreDurableTaskClient</c> in the host). Records
    /// and results are read with <paramref name="converter"/>: the engine's JSON options when null, as the worker writes them.
    /// </summary>
    public SandboxClient(DurableTaskClient client, DataConverter? converter = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        _converter = converter ?? SdkDataConverter.Default;
    }

    /// <summary>The instance id of a call: derived from the request id when there is one.</summary>
    /// <exception cref="InvalidSandboxArgumentException">The request id is too long or has characters outside [A-Za-z0-9_.-].</exception>
    public static string InstanceIdFor(string operation, string sandboxId, string? requestId)
    {
        if (requestId is null)
        {
            return $"{operation}:{sandboxId}:{Guid.NewGuid():N}";
        }

        if (!RequestIdRegex().IsMatch(requestId))
        {
            throw new InvalidSandboxArgumentException(
                "requestId", $"requestId must be 1 to {MaxRequestIdLength} characters of [A-Za-z0-9_.-], got '{(requestId.Length > 40 ? requestId[..40] + "…" : requestId)}'");
        }

        return $"{operation}:{sandboxId}:{requestId}";
    }

    /// <summary>
    /// Validates a call and starts its run; returns the instance id. With a request id already used, returns the
    /// existing run's id without starting another.
    /// </summary>
    /// <exception cref="SandboxCallException">The request is invalid (kind InvalidArgument); nothing was stored.</exception>
    public async Task<string> StartAsync(string operation, SandboxRequest request, string? requestId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        string instanceId;
        try
        {
            SandboxOrchestrations.ValidateRequest(operation, request);
            instanceId = InstanceIdFor(operation, request.SandboxId, requestId);
        }
        catch (InvalidSandboxArgumentException ex)
        {
            throw new SandboxCallException(SandboxErrorKind.InvalidArgument, ex.Message, inner: ex);
        }

        try
        {
            await _client.ScheduleNewOrchestrationInstanceAsync(
                operation,
                request,
                new StartOrchestrationOptions
                {
                    InstanceId = instanceId,
                    Tags = new Dictionary<string, string> { ["sandbox"] = request.SandboxId, ["operation"] = operation },
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (OrchestrationAlreadyExistsException) when (requestId is not null)
        {
            // The same request again: it joins the run the first one made.
        }

        return instanceId;
    }

    /// <summary>Waits for a run and returns its result, or throws what it failed with.</summary>
    /// <exception cref="SandboxCallException">The run failed or was terminated.</exception>
    public async Task<SandboxOperationResult> WaitAsync(string instanceId, CancellationToken cancellationToken)
    {
        var done = await _client.WaitForInstanceCompletionAsync(instanceId, getInputsAndOutputs: true, cancellationToken).ConfigureAwait(false);
        return Outcome(done);
    }

    /// <summary>
    /// Waits for a run and returns it as stored, output included, when it completed; throws what it failed with
    /// otherwise (the same exceptions as <see cref="WaitAsync"/>).
    /// </summary>
    /// <exception cref="SandboxCallException">The run failed or was terminated.</exception>
    public async Task<OrchestrationMetadata> WaitCompletedAsync(string instanceId, CancellationToken cancellationToken)
    {
        var done = await _client.WaitForInstanceCompletionAsync(instanceId, getInputsAndOutputs: true, cancellationToken).ConfigureAwait(false);
        ThrowIfNotCompleted(done);
        return done;
    }

    /// <summary>The result of a finished run, or the exception it failed with.</summary>
    /// <exception cref="SandboxCallException">The run failed or was terminated.</exception>
    public SandboxOperationResult Outcome(OrchestrationMetadata run)
    {
        ThrowIfNotCompleted(run);
        return _converter.Deserialize<SandboxOperationResult>(run.SerializedOutput) ?? new SandboxOperationResult();
    }

    /// <summary>Starts a call and waits for its result.</summary>
    public async Task<SandboxOperationResult> RunAsync(string operation, SandboxRequest request, string? requestId = null, CancellationToken cancellationToken = default)
    {
        var instanceId = await StartAsync(operation, request, requestId, cancellationToken).ConfigureAwait(false);
        return await WaitAsync(instanceId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The committed record of a sandbox (no lock is taken); null when it does not exist.</summary>
    /// <exception cref="SandboxCallException">The id is invalid (kind InvalidArgument).</exception>
    public async Task<SandboxRecord?> GetRecordAsync(string sandboxId, CancellationToken cancellationToken)
    {
        Validate(sandboxId);
        var entity = await _client.Entities.GetEntityAsync(Sdk(SandboxEntity.IdFor(sandboxId)), includeState: true, cancellationToken).ConfigureAwait(false);
        return entity is { IncludesState: true, State: { } state } ? _converter.Deserialize<SandboxRecord>(state.Value) : null;
    }

    /// <summary>StatusSandbox: the committed status, read without the lock.</summary>
    /// <exception cref="SandboxCallException">Invalid id, or no such sandbox (kind NotFound).</exception>
    public async Task<SandboxStatus> StatusAsync(string sandboxId, CancellationToken cancellationToken) =>
        SandboxStatus.Of(await GetRecordAsync(sandboxId, cancellationToken).ConfigureAwait(false)
            ?? throw new SandboxCallException(SandboxErrorKind.NotFound, $"Sandbox {sandboxId} does not exist"));

    /// <summary>StatusContainer: the committed status of one container, read without the lock.</summary>
    /// <exception cref="SandboxCallException">Invalid ids, or no such sandbox or container (kind NotFound).</exception>
    public async Task<ContainerStatus> StatusContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken) =>
        ContainerStatus.Of((await ContainerRecordAsync(sandboxId, containerId, cancellationToken).ConfigureAwait(false)).Container);

    /// <summary>
    /// The sandbox and container a ProcessListContainer asks the agent about, read without the lock: both must be
    /// running (Kata's "Sandbox not running, impossible to ps the container" and "Container not running, impossible to
    /// list processes").
    /// </summary>
    /// <exception cref="SandboxCallException">Invalid ids (InvalidArgument), no such sandbox or container (NotFound), not running (FailedPrecondition).</exception>
    public async Task<(SandboxRecord Sandbox, ContainerRecord Container)> ProcessListTargetAsync(string sandboxId, string containerId, CancellationToken cancellationToken)
    {
        var (record, container) = await ContainerRecordAsync(sandboxId, containerId, cancellationToken).ConfigureAwait(false);
        Check(() => SandboxPreconditions.ForProcessList(record, container));
        return (record, container);
    }

    /// <summary>
    /// The sandbox and container a StatsContainer asks the agent about, read without the lock: the sandbox must be
    /// running (Kata's "Sandbox not running, impossible to stats the container"); any container state will do.
    /// </summary>
    /// <exception cref="SandboxCallException">Invalid ids (InvalidArgument), no such sandbox or container (NotFound), sandbox not running (FailedPrecondition).</exception>
    public async Task<(SandboxRecord Sandbox, ContainerRecord Container)> StatsContainerTargetAsync(string sandboxId, string containerId, CancellationToken cancellationToken)
    {
        var (record, container) = await ContainerRecordAsync(sandboxId, containerId, cancellationToken).ConfigureAwait(false);
        Check(() => SandboxPreconditions.ForStats(record));
        return (record, container);
    }

    /// <summary>
    /// The sandbox a StatsSandbox reads, without the lock. As in Kata, its stats are its containers' stats, so the
    /// sandbox must be running when it has any; one without containers has none to read, in any state.
    /// </summary>
    /// <exception cref="SandboxCallException">Invalid id (InvalidArgument), no such sandbox (NotFound), not running with containers (FailedPrecondition).</exception>
    public async Task<SandboxRecord> StatsSandboxTargetAsync(string sandboxId, CancellationToken cancellationToken)
    {
        var record = await GetRecordAsync(sandboxId, cancellationToken).ConfigureAwait(false)
            ?? throw new SandboxCallException(SandboxErrorKind.NotFound, $"Sandbox {sandboxId} does not exist");
        if (record.Containers.Count > 0)
        {
            Check(() => SandboxPreconditions.ForStats(record));
        }

        return record;
    }

    /// <summary>ListSandbox: every sandbox's committed status, by id.</summary>
    public async Task<IReadOnlyList<SandboxStatus>> ListAsync(CancellationToken cancellationToken)
    {
        var list = new List<SandboxStatus>();
        var query = new EntityQuery { InstanceIdStartsWith = $"@{SandboxEntity.Name}@", IncludeState = true, PageSize = 500 };
        await foreach (var page in _client.Entities.GetAllEntitiesAsync(query).AsPages().WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            foreach (var entity in page.Values)
            {
                if (entity is { IncludesState: true, State: { } state } && _converter.Deserialize<SandboxRecord>(state.Value) is { } record)
                {
                    list.Add(SandboxStatus.Of(record));
                }
            }
        }

        return list;
    }

    private static void ThrowIfNotCompleted(OrchestrationMetadata run)
    {
        ArgumentNullException.ThrowIfNull(run);
        switch (run.RuntimeStatus)
        {
            case OrchestrationRuntimeStatus.Completed:
                return;
            case OrchestrationRuntimeStatus.Terminated:
                throw new SandboxCallException(
                    SandboxErrorKind.Terminated, $"{run.Name} run {run.InstanceId} was terminated: {run.SerializedOutput}", run.InstanceId);
            default:
                throw new SandboxCallException(
                    SandboxCallException.KindOf(run.FailureDetails),
                    run.FailureDetails?.ErrorMessage ?? $"{run.Name} run {run.InstanceId} ended {run.RuntimeStatus}",
                    run.InstanceId,
                    run.FailureDetails);
        }
    }

    private async Task<(SandboxRecord Sandbox, ContainerRecord Container)> ContainerRecordAsync(string sandboxId, string containerId, CancellationToken cancellationToken)
    {
        Check(() => SandboxIds.ValidateContainerId(containerId));
        var record = await GetRecordAsync(sandboxId, cancellationToken).ConfigureAwait(false)
            ?? throw new SandboxCallException(SandboxErrorKind.NotFound, $"Sandbox {sandboxId} does not exist");
        var container = record.FindContainer(containerId)
            ?? throw new SandboxCallException(SandboxErrorKind.NotFound, $"Container does not exist: {containerId}");
        return (record, container);
    }

    private static void Check(Action check)
    {
        try
        {
            check();
        }
        catch (InvalidSandboxArgumentException ex)
        {
            throw new SandboxCallException(SandboxErrorKind.InvalidArgument, ex.Message, inner: ex);
        }
        catch (SandboxPreconditionException ex)
        {
            throw new SandboxCallException(SandboxErrorKind.FailedPrecondition, ex.Message, inner: ex);
        }
    }

    private static void Validate(string sandboxId)
    {
        try
        {
            SandboxIds.ValidateSandboxId(sandboxId);
        }
        catch (InvalidSandboxArgumentException ex)
        {
            throw new SandboxCallException(SandboxErrorKind.InvalidArgument, ex.Message, inner: ex);
        }
    }

    private static EntityInstanceId Sdk(KataWorkflows.Engine.EntityInstanceId id) => new(id.Name, id.Key);

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex RequestIdRegex();
}
