using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Entities;

namespace KataWorkflows.Orchestrations.Sandboxes;

/// <summary>
/// One sandbox call inside its critical section: the record as read from the entity, the steps the call takes,
/// and the write-back. Every method here is orchestration code: deterministic, through the context only.
/// </summary>
internal sealed partial class SandboxSession
{
    private const int MaxOperationsKept = 200;

    private const int SigKill = 9;

    private readonly TaskOrchestrationContext _context;
    private readonly EntityInstanceId _entity;
    private readonly TimeSpan? _stepTimeout;

    public SandboxSession(TaskOrchestrationContext context, string sandboxId, SandboxRecord? record, TimeSpan? stepTimeout)
    {
        _context = context;
        SandboxId = sandboxId;
        _entity = SandboxEntity.IdFor(sandboxId);
        Record = record;
        _stepTimeout = stepTimeout;
    }

    public string SandboxId { get; }

    /// <summary>The record as the call has changed it so far; null when there is none (or it was deleted).</summary>
    public SandboxRecord? Record { get; private set; }

    /// <summary>True when the record changed and is not yet written.</summary>
    public bool Dirty { get; private set; }

    private SandboxTarget Target => SandboxTarget.Of(Record!);

    private string SandboxSubject => $"sandbox {SandboxId}";

    /// <summary>Replaces the in-memory record; it is written by <see cref="SaveAsync"/>.</summary>
    public void Update(SandboxRecord record)
    {
        Record = record;
        Dirty = true;
    }

    /// <summary>Writes the record to the entity, noting this call among its operations.</summary>
    public async Task SaveAsync()
    {
        if (Record is null)
        {
            return;
        }

        var operations = Record.Operations.Contains(_context.InstanceId)
            ? Record.Operations
            : Record.Operations.Append(_context.InstanceId).TakeLast(MaxOperationsKept).ToList();
        Record = Record with { Operations = operations, UpdatedAt = _context.CurrentUtcDateTime };
        await _context.Entities.CallEntityAsync(_entity, SandboxEntity.PutOperation, Record);
        Dirty = false;
    }

    /// <summary>Removes the record from the entity.</summary>
    public async Task DeleteRecordAsync()
    {
        await _context.Entities.CallEntityAsync(_entity, SandboxEntity.DeleteOperation);
        Record = null;
        Dirty = false;
    }

    public SandboxOperationResult Result() => new() { Sandbox = Record is null ? null : SandboxStatus.Of(Record) };

    public SandboxRecord RequireSandbox() =>
        Record ?? throw new SandboxNotFoundException($"Sandbox {SandboxId} does not exist");

    public ContainerRecord RequireContainer(string? containerId)
    {
        SandboxIds.ValidateContainerId(containerId);
        var record = RequireSandbox();
        return record.FindContainer(containerId!) ?? throw new SandboxNotFoundException($"Container does not exist: {containerId}");
    }

    private void RequireSandboxState(string message, params SandboxState[] allowed) =>
        SandboxPreconditions.RequireSandboxState(RequireSandbox(), message, allowed);

    private static void RequireContainerState(ContainerRecord container, string message, params SandboxState[] allowed) =>
        SandboxPreconditions.RequireContainerState(container, message, allowed);

    /// <summary>Runs one activity; with a step timeout, a durable timer bounds it.</summary>
    private async Task<T> StepAsync<T>(string activity, object input, RetryPolicy? retry = null)
    {
        var options = retry is null ? null : new TaskOptions(retry);
        if (_stepTimeout is not { } timeout)
        {
            return await _context.CallActivityAsync<T>(activity, input, options);
        }

        using var cancelTimer = new CancellationTokenSource();
        var call = _context.CallActivityAsync<T>(activity, input, options);
        var timer = _context.CreateTimer(timeout, cancelTimer.Token);
        var first = await Task.WhenAny(call, timer);
        if (first == call)
        {
            cancelTimer.Cancel();
            return await call;
        }

        throw new TimeoutException($"{activity} did not finish within {timeout}");
    }

    private static string Cause(Exception ex) => ex is TaskFailedException failed ? failed.FailureDetails.ErrorMessage : ex.Message;
}
