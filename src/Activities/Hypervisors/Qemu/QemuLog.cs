using Microsoft.Extensions.Logging;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>The QEMU driver's log messages (event ids 4500-4599).</summary>
internal static partial class QemuLog
{
    [LoggerMessage(4501, LogLevel.Information, "QEMU accelerator {Accelerator}: {Reason}")]
    public static partial void AcceleratorChosen(ILogger logger, QemuAccelerator accelerator, string reason);

    [LoggerMessage(4502, LogLevel.Information, "Starting the VM of sandbox {SandboxId}: {Program} {Arguments}")]
    public static partial void Launching(ILogger logger, string sandboxId, string program, string arguments);

    [LoggerMessage(4503, LogLevel.Information, "The VM of sandbox {SandboxId} is up (QEMU pid {Pid}) after {Seconds:0.00} s")]
    public static partial void Booted(ILogger logger, string sandboxId, int pid, double seconds);

    [LoggerMessage(4504, LogLevel.Information, "Sandbox {SandboxId} already has a VM (QEMU pid {Pid}, status {Status}); it is used instead of starting another")]
    public static partial void Adopted(ILogger logger, string sandboxId, int pid, string status);

    [LoggerMessage(4505, LogLevel.Warning, "The VM of sandbox {SandboxId} did not come up: {Reason}")]
    public static partial void BootFailed(ILogger logger, string sandboxId, string reason);

    [LoggerMessage(4506, LogLevel.Warning, "QEMU pid {Pid} of sandbox {SandboxId} did not exit after quit within {Timeout}; killing it")]
    public static partial void Killing(ILogger logger, string sandboxId, int pid, TimeSpan timeout);

    [LoggerMessage(4507, LogLevel.Information, "The VM of sandbox {SandboxId} is stopped and its run directory removed")]
    public static partial void Stopped(ILogger logger, string sandboxId);

    [LoggerMessage(4508, LogLevel.Warning, "The shared directory {Share} of sandbox {SandboxId} still has mounts under it; it is left in place")]
    public static partial void ShareStillMounted(ILogger logger, string sandboxId, string share);

    [LoggerMessage(4509, LogLevel.Warning, "Sandbox {SandboxId} has a stale VM (QEMU pid {Pid}: {Reason}); it is stopped before a new one starts")]
    public static partial void StaleVm(ILogger logger, string sandboxId, int pid, string reason);

    [LoggerMessage(4510, LogLevel.Information, "Hot-plugged {Device} ({Kind}) into the VM of sandbox {SandboxId} on {Bus}")]
    public static partial void Plugged(ILogger logger, string sandboxId, string device, string kind, string bus);

    [LoggerMessage(4511, LogLevel.Information, "Unplugged {Device} from the VM of sandbox {SandboxId}")]
    public static partial void Unplugged(ILogger logger, string sandboxId, string device);

    [LoggerMessage(4512, LogLevel.Debug, "QMP quit to sandbox {SandboxId} failed; the VM is killed instead")]
    public static partial void QuitFailed(ILogger logger, string sandboxId, Exception exception);
}
