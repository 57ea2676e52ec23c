namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>
/// A sandbox's VM did not come up: QEMU refused to start, exited, or the guest did not open its agent channel within
/// the boot timeout. The VM was stopped and its run directory removed; the message carries the tail of its console.
/// </summary>
public sealed class QemuBootException : Exception
{
    /// <summary>Creates the exception.</summary>
    public QemuBootException(string sandboxId, string reason, string consoleTail, Exception? inner = null)
        : base(Format(sandboxId, reason, consoleTail), inner)
    {
        SandboxId = sandboxId;
        Reason = reason;
        ConsoleTail = consoleTail;
    }

    /// <summary>The sandbox.</summary>
    public string SandboxId { get; }

    /// <summary>What went wrong.</summary>
    public string Reason { get; }

    /// <summary>The last lines of the guest's console (bounded), empty when it printed nothing.</summary>
    public string ConsoleTail { get; }

    private static string Format(string sandboxId, string reason, string tail) =>
        $"The VM of sandbox '{sandboxId}' did not come up: {reason}. " +
        (tail.Length == 0 ? "The guest printed nothing on its console." : $"Last console lines:\n{tail}");
}
