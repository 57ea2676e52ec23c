using System.Globalization;
using Google.Protobuf;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Serialization;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;
using Microsoft.DurableTask.Protobuf;
using Kind = Microsoft.DurableTask.Protobuf.HistoryEvent.EventTypeOneofCase;

namespace KataWorkflows.Host.WebConsole;

/// <summary>
/// What the console shows, read from the store through <see cref="IOrchestrationStore"/> (never through a client, so
/// the console reads exactly what is committed and changes nothing).
/// </summary>
internal sealed class ConsoleReader(IOrchestrationStore store, DataConverter converter)
{
    /// <summary>The tag the sandbox client puts on every sandbox run: the sandbox id.</summary>
    public const string SandboxTag = "sandbox";

    /// <summary>The tag with the sandbox call's operation.</summary>
    public const string OperationTag = "operation";

    private static readonly JsonFormatter EventFormatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(false));

    /// <summary>One page of runs, newest first.</summary>
    public async Task<RunsPage> RunsAsync(RunFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var query = new OrchestrationQuery
        {
            NewestFirst = true,
            Statuses = filter.Statuses,
            Name = filter.Name,
            InstanceIdPrefix = filter.Prefix,
            CreatedFrom = filter.From,
            CreatedTo = filter.To,
            Tags = filter.Sandbox is { } sandbox ? new Dictionary<string, string> { [SandboxTag] = sandbox } : null,
            PageSize = filter.PageSize,
            ContinuationToken = filter.Page,
        };
        var page = await store.QueryInstancesAsync(query, cancellationToken).ConfigureAwait(false);
        return new RunsPage([.. page.Instances.Select(Summary)], page.ContinuationToken);
    }

    /// <summary>A run with its payloads, timeline, children; null when there is no such run.</summary>
    public async Task<RunDetail?> RunAsync(string instanceId, CancellationToken cancellationToken)
    {
        var instance = await store.GetInstanceAsync(instanceId, includePayloads: true, cancellationToken).ConfigureAwait(false);
        if (instance is null)
        {
            return null;
        }

        var events = await store.GetHistoryAsync(instanceId, instance.ExecutionId, cancellationToken).ConfigureAwait(false);
        var children = events.Where(e => e.EventTypeCase == Kind.SubOrchestrationInstanceCreated)
            .Select(e => e.SubOrchestrationInstanceCreated.InstanceId).Distinct(StringComparer.Ordinal).ToList();
        return new RunDetail(
            Summary(instance),
            instance.ExecutionId,
            instance.SerializedInput,
            instance.SerializedOutput,
            instance.SerializedCustomStatus,
            Failure(instance.FailureDetails),
            instance.ParentInstanceId,
            children,
            instance.Tags,
            events.Count,
            RunTimeline.Read(events));
    }

    /// <summary>Every event of the run's current execution; null when there is no such run.</summary>
    public async Task<IReadOnlyList<HistoryRow>?> HistoryAsync(string instanceId, CancellationToken cancellationToken)
    {
        var instance = await store.GetInstanceAsync(instanceId, includePayloads: false, cancellationToken).ConfigureAwait(false);
        if (instance is null)
        {
            return null;
        }

        var events = await store.GetHistoryAsync(instanceId, instance.ExecutionId, cancellationToken).ConfigureAwait(false);
        var steps = new RunStepReader();
        var rows = new List<HistoryRow>(events.Count);
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            var step = steps.Read(e);
            rows.Add(new HistoryRow(
                i,
                e.EventId,
                e.EventTypeCase.ToString(),
                e.Timestamp?.ToDateTime(),
                EventName(e),
                IsFailure(e),
                step?.Compensation ?? false,
                EventFormatter.Format(e)));
        }

        return rows;
    }

    /// <summary>
    /// The run's export: the same document as <c>kwf wf export</c> (both are made by <see cref="HistoryDocument.Export"/>);
    /// null when there is no such run.
    /// </summary>
    public async Task<HistoryDocument?> ExportAsync(string instanceId, CancellationToken cancellationToken)
    {
        var instance = await store.GetInstanceAsync(instanceId, includePayloads: false, cancellationToken).ConfigureAwait(false);
        if (instance is null)
        {
            return null;
        }

        // The history kwf exports is the current execution's (the sidecar reads it with no execution id).
        var events = await store.GetHistoryAsync(instanceId, null, cancellationToken).ConfigureAwait(false);
        return HistoryDocument.Export(instanceId, instance.Name, instance.ExecutionId, instance.Status.ToProto().ToString(), events);
    }

    /// <summary>Every sandbox the entities hold, by id.</summary>
    public async Task<IReadOnlyList<SandboxView>> SandboxesAsync(CancellationToken cancellationToken)
    {
        var list = new List<SandboxView>();
        string? token = null;
        do
        {
            var page = await store.QueryEntitiesAsync(
                new EntityListQuery { InstanceIdStartsWith = $"@{SandboxEntity.Name}@", IncludeState = true, IncludeTransient = true, PageSize = 500, ContinuationToken = token },
                cancellationToken).ConfigureAwait(false);
            foreach (var entity in page.Entities)
            {
                list.Add(Sandbox(entity));
            }

            token = page.ContinuationToken;
        }
        while (token is not null);
        return list;
    }

    private SandboxView Sandbox(Engine.EntityMetadata entity)
    {
        SandboxRecord? record = null;
        string? unreadable = null;
        try
        {
            record = entity.SerializedState is { } state ? converter.Deserialize<SandboxRecord>(state) : null;
        }
        catch (System.Text.Json.JsonException ex)
        {
            unreadable = ex.Message;
        }

        return new SandboxView(
            entity.Id.Key,
            record is null ? (unreadable is null ? "none" : "unreadable") : StateTransitions.Name(record.State),
            [.. (record?.Containers ?? []).Select(c => new ContainerView(c.Id, StateTransitions.Name(c.State), c.Pid))],
            record?.PendingOperation,
            record?.CleanupReason ?? unreadable,
            record?.Operations ?? [],
            record?.Config.HypervisorType,
            record?.Vm?.Pid,
            record?.UpdatedAt,
            entity.LockedBy,
            entity.BacklogQueueSize,
            entity.LastModifiedAt);
    }

    private static RunSummary Summary(OrchestrationMetadata m) => new(
        m.InstanceId,
        m.Name,
        m.Status.ToString(),
        Outcome(m),
        m.CreatedAt,
        m.LastUpdatedAt,
        m.CompletedAt,
        m.Tags.TryGetValue(SandboxTag, out var sandbox) ? sandbox : null,
        m.Tags.TryGetValue(OperationTag, out var operation) ? operation : null,
        m.FailureDetails is { } f ? $"{ShortType(f.ErrorType)}: {f.ErrorMessage}" : null);

    /// <summary>As <c>kwf</c> says it: completed, compensated, failed, terminated, suspended or in progress.</summary>
    private static string Outcome(OrchestrationMetadata m) => m.Status switch
    {
        OrchestrationRuntimeStatus.Completed => "completed",
        OrchestrationRuntimeStatus.Failed => SandboxCallException.KindOf(m.FailureDetails) == SandboxErrorKind.Compensated ? "compensated" : "failed",
        OrchestrationRuntimeStatus.Terminated or OrchestrationRuntimeStatus.Canceled => "terminated",
        OrchestrationRuntimeStatus.Suspended => "suspended",
        OrchestrationRuntimeStatus.ContinuedAsNew => "continued as new",
        _ => "in progress",
    };

    private static FailureView? Failure(FailureDetails? f) =>
        f is null ? null : new FailureView(f.ErrorType, f.ErrorMessage, f.StackTrace, f.IsNonRetriable, Failure(f.InnerFailure));

    private static string ShortType(string type)
    {
        var dot = type.LastIndexOf('.');
        return dot < 0 ? type : type[(dot + 1)..];
    }

    private static bool IsFailure(HistoryEvent e) => e.EventTypeCase switch
    {
        Kind.TaskFailed or Kind.SubOrchestrationInstanceFailed or Kind.EntityOperationFailed or Kind.ExecutionTerminated => true,
        Kind.ExecutionCompleted => e.ExecutionCompleted.FailureDetails is not null,
        _ => false,
    };

    private static string? EventName(HistoryEvent e) => e.EventTypeCase switch
    {
        Kind.ExecutionStarted => e.ExecutionStarted.Name,
        Kind.ExecutionCompleted => e.ExecutionCompleted.OrchestrationStatus.ToString(),
        Kind.TaskScheduled => e.TaskScheduled.Name,
        Kind.TaskCompleted => "#" + e.TaskCompleted.TaskScheduledId.ToString(CultureInfo.InvariantCulture),
        Kind.TaskFailed => "#" + e.TaskFailed.TaskScheduledId.ToString(CultureInfo.InvariantCulture),
        Kind.TimerCreated => "fires " + e.TimerCreated.FireAt?.ToDateTime().ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture),
        Kind.TimerFired => "timer #" + e.TimerFired.TimerId.ToString(CultureInfo.InvariantCulture),
        Kind.SubOrchestrationInstanceCreated => $"{e.SubOrchestrationInstanceCreated.Name} {e.SubOrchestrationInstanceCreated.InstanceId}",
        Kind.SubOrchestrationInstanceCompleted => "#" + e.SubOrchestrationInstanceCompleted.TaskScheduledId.ToString(CultureInfo.InvariantCulture),
        Kind.SubOrchestrationInstanceFailed => "#" + e.SubOrchestrationInstanceFailed.TaskScheduledId.ToString(CultureInfo.InvariantCulture),
        Kind.EventRaised => e.EventRaised.Name,
        Kind.EventSent => $"{e.EventSent.Name} -> {e.EventSent.InstanceId}",
        Kind.EntityOperationCalled => $"{e.EntityOperationCalled.Operation} {e.EntityOperationCalled.TargetInstanceId}",
        Kind.EntityOperationSignaled => $"{e.EntityOperationSignaled.Operation} {e.EntityOperationSignaled.TargetInstanceId}",
        Kind.EntityLockRequested => string.Join(", ", e.EntityLockRequested.LockSet),
        Kind.EntityUnlockSent => e.EntityUnlockSent.TargetInstanceId,
        _ => null,
    };
}

/// <summary>The runs page's filter.</summary>
internal sealed record RunFilter
{
    /// <summary>Only these statuses; all when null.</summary>
    public IReadOnlyCollection<OrchestrationRuntimeStatus>? Statuses { get; init; }

    /// <summary>Only runs of this orchestration.</summary>
    public string? Name { get; init; }

    /// <summary>Only the runs of this sandbox (its tag).</summary>
    public string? Sandbox { get; init; }

    /// <summary>Only instance ids starting with this.</summary>
    public string? Prefix { get; init; }

    /// <summary>Created at or after.</summary>
    public DateTime? From { get; init; }

    /// <summary>Created before.</summary>
    public DateTime? To { get; init; }

    /// <summary>Runs per page.</summary>
    public int PageSize { get; init; } = 50;

    /// <summary>The previous page's continuation token.</summary>
    public string? Page { get; init; }
}

/// <summary>A page of runs.</summary>
internal sealed record RunsPage(IReadOnlyList<RunSummary> Runs, string? Next);

/// <summary>A run as the runs page lists it.</summary>
internal sealed record RunSummary(
    string InstanceId,
    string Name,
    string Status,
    string Outcome,
    DateTime CreatedAt,
    DateTime LastUpdatedAt,
    DateTime? CompletedAt,
    string? Sandbox,
    string? Operation,
    string? Failure);

/// <summary>A run in full.</summary>
internal sealed record RunDetail(
    RunSummary Run,
    string ExecutionId,
    string? Input,
    string? Output,
    string? CustomStatus,
    FailureView? FailureDetails,
    string? Parent,
    IReadOnlyList<string> Children,
    IReadOnlyDictionary<string, string> Tags,
    int EventCount,
    RunTimeline Timeline);

/// <summary>A failure with its causes.</summary>
internal sealed record FailureView(string Type, string Message, string? StackTrace, bool NonRetriable, FailureView? Cause);

/// <summary>One history event: its place, type, time, what it is about, and the event itself as the protocol's JSON.</summary>
internal sealed record HistoryRow(int Index, int EventId, string Type, DateTime? Time, string? Name, bool Failed, bool Compensation, string Json);

/// <summary>A sandbox as the sandboxes page shows it.</summary>
internal sealed record SandboxView(
    string Id,
    string State,
    IReadOnlyList<ContainerView> Containers,
    string? PendingOperation,
    string? CleanupReason,
    IReadOnlyList<string> Operations,
    string? Hypervisor,
    int? VmPid,
    DateTime? UpdatedAt,
    string? LockedBy,
    int Backlog,
    DateTime LastModifiedAt);

/// <summary>A container of a sandbox.</summary>
internal sealed record ContainerView(string Id, string State, int Pid);
