namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>QEMU answered a QMP command with an error (<c>{"error": {"class": ..., "desc": ...}}</c>).</summary>
public sealed class QmpException : Exception
{
    /// <summary>Creates the exception.</summary>
    public QmpException(string command, string errorClass, string description, string socketPath)
        : base($"QMP {command} on {socketPath} failed: {errorClass}: {description}")
    {
        Command = command;
        ErrorClass = errorClass;
        Description = description;
        SocketPath = socketPath;
    }

    /// <summary>The command that failed.</summary>
    public string Command { get; }

    /// <summary>QMP's error class (<c>GenericError</c>, <c>CommandNotFound</c>, <c>DeviceNotFound</c>...).</summary>
    public string ErrorClass { get; }

    /// <summary>QMP's description of the error.</summary>
    public string Description { get; }

    /// <summary>The QMP socket.</summary>
    public string SocketPath { get; }
}
