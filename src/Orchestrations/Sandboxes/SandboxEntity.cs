using KataWorkflows.Orchestrations.Model;
using Microsoft.DurableTask.Entities;

namespace KataWorkflows.Orchestrations.Sandboxes;

/// <summary>
/// The durable sandbox record, one entity per sandbox (<c>@sandbox@&lt;id&gt;</c>). Mutating orchestrations lock
/// it first (replacing Kata's per-sandbox flock), read it with <see cref="GetOperation"/>, and write the new record with
/// <see cref="PutOperation"/> before they unlock; reads get its committed state without waiting for the lock.
/// </summary>
public sealed class SandboxEntity : TaskEntity<SandboxRecord?>
{
    /// <summary>The entity name.</summary>
    public const string Name = "sandbox";

    /// <summary>Operation: returns the record, or null.</summary>
    public const string GetOperation = "get";

    /// <summary>Operation: replaces the record.</summary>
    public const string PutOperation = "put";

    /// <summary>Operation: removes the record (the built-in delete).</summary>
    public const string DeleteOperation = "delete";

    /// <summary>The entity id of a sandbox.</summary>
    public static EntityInstanceId IdFor(string sandboxId) => new(Name, sandboxId);

    /// <summary>Returns the record.</summary>
    public SandboxRecord? Get() => State;

    /// <summary>Replaces the record.</summary>
    public void Put(SandboxRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        State = record;
    }

    /// <inheritdoc />
    protected override SandboxRecord? InitializeState(TaskEntityOperation entityOperation) => null;
}
