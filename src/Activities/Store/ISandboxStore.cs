using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Store;

/// <summary>
/// The host's copy of a sandbox record, in Kata's run-directory layout, for tools that read it there. The durable
/// record is the sandbox entity; this copy is rewritten whole after every change, so every member is idempotent.
/// </summary>
public interface ISandboxStore
{
    /// <summary>Writes the sandbox's and its containers' state, and removes containers no longer in the record.</summary>
    Task WriteAsync(SandboxRecord record, CancellationToken cancellationToken);

    /// <summary>Reads the sandbox's state; null when none is stored.</summary>
    Task<SandboxPersistState?> ReadAsync(string sandboxId, CancellationToken cancellationToken);

    /// <summary>Reads a container's state; null when none is stored.</summary>
    Task<ContainerPersistState?> ReadContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken);

    /// <summary>Removes everything stored for the sandbox; nothing stored is not an error.</summary>
    Task RemoveAsync(string sandboxId, CancellationToken cancellationToken);

    /// <summary>True when something is stored for the sandbox.</summary>
    bool Exists(string sandboxId);
}
