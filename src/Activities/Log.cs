using KataWorkflows.Activities.Faults;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.Activities;

/// <summary>Every log message of the activities and drivers, with stable event ids (4000-4999).</summary>
internal static partial class Log
{
    [LoggerMessage(4001, LogLevel.Warning, "{Step} of sandbox {SandboxId}: {Operation} failed and was skipped (force)")]
    public static partial void ForcedFailureSkipped(ILogger logger, string step, string sandboxId, string operation, Exception exception);

    [LoggerMessage(4002, LogLevel.Warning, "{Step} of sandbox {SandboxId}: the agent did not stop the sandbox; the VM is stopped anyway")]
    public static partial void AgentDidNotStop(ILogger logger, string step, string sandboxId, Exception exception);

    [LoggerMessage(4003, LogLevel.Warning, "{Step} of sandbox {SandboxId} failed; undoing {Operation} before reporting the failure")]
    public static partial void UndoingPartialStep(ILogger logger, string step, string sandboxId, string operation, Exception exception);

    [LoggerMessage(4004, LogLevel.Error, "{Step} of sandbox {SandboxId}: undoing {Operation} failed too; it is left for cleanup")]
    public static partial void UndoFailed(ILogger logger, string step, string sandboxId, string operation, Exception exception);

    [LoggerMessage(4005, LogLevel.Debug, "{Step} of sandbox {SandboxId}: SIGKILL to container {ContainerId} failed; ignored as in Kata")]
    public static partial void KillIgnored(ILogger logger, string step, string sandboxId, string containerId, Exception exception);

    [LoggerMessage(4101, LogLevel.Warning, "Injected fault {Mode} at {Step} ({Point}) for sandbox {SandboxId}: {Occurrence}")]
    public static partial void FaultInjected(ILogger logger, string mode, string step, FaultPoint point, string sandboxId, string occurrence);

    [LoggerMessage(4102, LogLevel.Critical, "Killing this process with SIGKILL at {Step} ({Point}) for sandbox {SandboxId}: injected fault")]
    public static partial void KillingProcess(ILogger logger, string step, FaultPoint point, string sandboxId);

    [LoggerMessage(4201, LogLevel.Debug, "Connected to the Kata agent of sandbox {SandboxId} on {Socket}")]
    public static partial void AgentConnected(ILogger logger, string sandboxId, string socket);

    [LoggerMessage(4202, LogLevel.Information, "The connection to the Kata agent of sandbox {SandboxId} on {Socket} ended ({Reason}); dialling again")]
    public static partial void AgentReconnecting(ILogger logger, string sandboxId, string socket, string reason);

    [LoggerMessage(4203, LogLevel.Debug, "The Kata agent of sandbox {SandboxId} had its sandbox created already; CreateSandbox counts as done")]
    public static partial void AgentSandboxAlreadyCreated(ILogger logger, string sandboxId);

    [LoggerMessage(4204, LogLevel.Debug, "Container {ContainerId} of sandbox {SandboxId} exists in the guest already; CreateContainer counts as done")]
    public static partial void AgentContainerAlreadyCreated(ILogger logger, string sandboxId, string containerId);

    [LoggerMessage(4205, LogLevel.Debug, "Container {ContainerId} of sandbox {SandboxId} is not in the guest; RemoveContainer counts as done")]
    public static partial void AgentContainerAlreadyRemoved(ILogger logger, string sandboxId, string containerId);

    [LoggerMessage(4206, LogLevel.Debug, "Sandbox {SandboxId} has no agent socket at {Socket}: its VM is gone, DestroySandbox counts as done")]
    public static partial void AgentSocketGone(ILogger logger, string sandboxId, string socket);

    [LoggerMessage(4207, LogLevel.Debug, "Container {ContainerId} of sandbox {SandboxId} was started already; StartContainer counts as done")]
    public static partial void AgentContainerAlreadyStarted(ILogger logger, string sandboxId, string containerId);
}
