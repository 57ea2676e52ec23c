using Microsoft.Extensions.Logging;

namespace KataWorkflows.Activities.Networks.TcFilter;

/// <summary>The tcfilter network driver's log messages (event ids 4600-4649 of the activities' 4000-4999).</summary>
internal static partial class TcFilterLog
{
    [LoggerMessage(4601, LogLevel.Information, "Sandbox {SandboxId}: leased subnet {Subnet} from the address pool")]
    public static partial void SubnetLeased(ILogger logger, string sandboxId, string subnet);

    [LoggerMessage(4602, LogLevel.Information, "Sandbox {SandboxId}: created network namespace {NetNsPath}")]
    public static partial void NetnsCreated(ILogger logger, string sandboxId, string netNsPath);

    [LoggerMessage(4603, LogLevel.Warning, "Sandbox {SandboxId}: {NetNsPath} is not a usable network namespace (an interrupted create?); it is made again")]
    public static partial void NetnsStale(ILogger logger, string sandboxId, string netNsPath);

    [LoggerMessage(4604, LogLevel.Information, "Sandbox {SandboxId}: endpoint {Interface} ready in {NetNsPath}: veth {HostDevice} on the host, tap {TapDevice}, addresses {Addresses}")]
    public static partial void EndpointReady(ILogger logger, string sandboxId, string @interface, string netNsPath, string hostDevice, string tapDevice, string addresses);

    [LoggerMessage(4605, LogLevel.Information, "Sandbox {SandboxId}: endpoint {Interface} removed (veth {HostDevice}, tap {TapDevice})")]
    public static partial void EndpointRemoved(ILogger logger, string sandboxId, string @interface, string hostDevice, string tapDevice);

    [LoggerMessage(4606, LogLevel.Information, "Sandbox {SandboxId}: removed network namespace {NetNsPath}")]
    public static partial void NetnsRemoved(ILogger logger, string sandboxId, string netNsPath);

    [LoggerMessage(4607, LogLevel.Information, "Sandbox {SandboxId}: network lease released")]
    public static partial void LeaseReleased(ILogger logger, string sandboxId);

    [LoggerMessage(4608, LogLevel.Debug, "Sandbox {SandboxId}: `{Command}` failed but what it removes is gone; counted as done")]
    public static partial void AlreadyGone(ILogger logger, string sandboxId, string command);
}
