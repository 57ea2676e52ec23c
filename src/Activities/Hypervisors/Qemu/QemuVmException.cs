namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>A sandbox's VM is not running, or not healthy, when a call needs it.</summary>
public sealed class QemuVmException : Exception
{
    /// <summary>Creates the exception.</summary>
    public QemuVmException(string sandboxId, string? status, string message, Exception? inner = null)
        : base(message, inner)
    {
        SandboxId = sandboxId;
        Status = status;
    }

    /// <summary>The sandbox.</summary>
    public string SandboxId { get; }

    /// <summary>QEMU's run state (<c>query-status</c>), or null when there is no QEMU process.</summary>
    public string? Status { get; }
}
