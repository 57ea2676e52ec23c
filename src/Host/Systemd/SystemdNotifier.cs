using System.Net.Sockets;
using System.Text;

namespace KataWorkflows.Host.Systemd;

/// <summary>
/// sd_notify(3): sends state lines (<c>READY=1</c>, <c>STOPPING=1</c>) to the datagram socket systemd names in
/// <c>NOTIFY_SOCKET</c>, so a <c>Type=notify</c> unit is ready only once the listeners are bound. Does nothing when the
/// variable is unset.
/// </summary>
internal sealed partial class SystemdNotifier
{
    /// <summary>The environment variable systemd sets for a <c>Type=notify</c> service.</summary>
    public const string Variable = "NOTIFY_SOCKET";

    private readonly string? _path;
    private readonly ILogger<SystemdNotifier> _logger;

    /// <summary>Creates the notifier from <c>NOTIFY_SOCKET</c>.</summary>
    public SystemdNotifier(ILogger<SystemdNotifier> logger)
        : this(Environment.GetEnvironmentVariable(Variable), logger)
    {
    }

    /// <summary>Creates a notifier for a socket path (a leading '@' names an abstract socket).</summary>
    public SystemdNotifier(string? path, ILogger<SystemdNotifier> logger)
    {
        _path = string.IsNullOrEmpty(path) ? null : path;
        _logger = logger;
    }

    /// <summary>Sends one state line; a failure is logged, never thrown (systemd is not worth failing the host for).</summary>
    public void Notify(string state)
    {
        if (_path is null)
        {
            return;
        }

        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            var path = _path[0] == '@' ? "\0" + _path[1..] : _path;
            socket.SendTo(Encoding.UTF8.GetBytes(state), new UnixDomainSocketEndPoint(path));
            LogNotified(state, _path);
        }
        catch (SocketException ex)
        {
            LogNotifyFailed(ex, state, _path);
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Sent {State} to systemd at {NotifySocket}")]
    private partial void LogNotified(string state, string notifySocket);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Could not send {State} to systemd at {NotifySocket}")]
    private partial void LogNotifyFailed(Exception exception, string state, string notifySocket);
}
