using Microsoft.Extensions.Logging;

namespace KataWorkflows.Protocol;

/// <summary>Every log message of the protocol library, with stable event ids (6000-6999).</summary>
internal static partial class Log
{
    [LoggerMessage(6001, LogLevel.Warning, "ttrpc connection {Connection} closed after an invalid frame: {Reason}")]
    public static partial void TtrpcBadFrame(ILogger logger, string connection, string reason);

    [LoggerMessage(6002, LogLevel.Error, "ttrpc method {Service}/{Method} failed with an unexpected exception; answered Unknown")]
    public static partial void TtrpcHandlerFailed(ILogger logger, string service, string method, Exception exception);

    [LoggerMessage(6003, LogLevel.Debug, "ttrpc connection {Connection} ended: {Reason}")]
    public static partial void TtrpcConnectionEnded(ILogger logger, string connection, string reason);

    [LoggerMessage(6004, LogLevel.Warning, "ttrpc method {Service}/{Method} ran past the caller's timeout of {Timeout}; answered DeadlineExceeded")]
    public static partial void TtrpcHandlerTimedOut(ILogger logger, string service, string method, TimeSpan timeout);

    [LoggerMessage(6005, LogLevel.Warning, "ttrpc listener could not accept a connection")]
    public static partial void TtrpcAcceptFailed(ILogger logger, Exception exception);
}
