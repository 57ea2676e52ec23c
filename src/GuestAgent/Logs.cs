using Microsoft.Extensions.Logging;

namespace KataWorkflows.GuestAgent;

internal static partial class Logs
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Serving Kata's agent API on {Channel} (agent {Version})")]
    public static partial void Serving(ILogger logger, string channel, string version);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "The host closed {Channel}; waiting for it to connect again")]
    public static partial void ChannelClosed(ILogger logger, string channel);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "The host connected to {Channel}")]
    public static partial void HostConnected(ILogger logger, string channel);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "The connection on {Channel} carried a bad frame and was dropped")]
    public static partial void BadFrame(ILogger logger, string channel, Exception exception);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Sandbox {SandboxId} created ({Mounts} storages mounted)")]
    public static partial void SandboxCreated(ILogger logger, string sandboxId, int mounts);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Sandbox {SandboxId} destroyed")]
    public static partial void SandboxDestroyed(ILogger logger, string sandboxId);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Sandbox not started, DestroySandbox is a no-op")]
    public static partial void DestroyNoOp(ILogger logger);

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Container {ContainerId} created: process {Pid}, rootfs {Rootfs}")]
    public static partial void ContainerCreated(ILogger logger, string containerId, int pid, string rootfs);

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Container {ContainerId} started")]
    public static partial void ContainerStarted(ILogger logger, string containerId);

    [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "Container {ContainerId} removed")]
    public static partial void ContainerRemoved(ILogger logger, string containerId);

    [LoggerMessage(EventId = 23, Level = LogLevel.Information, Message = "Process {ExecId} of container {ContainerId} started as {Pid}")]
    public static partial void ProcessExecuted(ILogger logger, string containerId, string execId, int pid);

    [LoggerMessage(EventId = 24, Level = LogLevel.Information, Message = "Signal {Signal} to stopped container {ContainerId} discarded")]
    public static partial void SignalDiscarded(ILogger logger, string containerId, int signal);

    [LoggerMessage(EventId = 30, Level = LogLevel.Information, Message = "Onlined {Onlined} CPUs ({Requested} requested)")]
    public static partial void OnlinedCpus(ILogger logger, int onlined, uint requested);
}
