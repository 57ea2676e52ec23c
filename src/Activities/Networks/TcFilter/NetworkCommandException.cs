namespace KataWorkflows.Activities.Networks.TcFilter;

/// <summary>
/// An <c>ip</c> or <c>tc</c> command failed, did not finish within its timeout, or could not be started. The message
/// names the command line and carries what the command wrote to stderr.
/// </summary>
public sealed class NetworkCommandException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NetworkCommandException(string command, int exitCode, string standardError, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Command = command;
        ExitCode = exitCode;
        StandardError = standardError;
    }

    /// <summary>Creates an exception with only a message.</summary>
    public NetworkCommandException()
        : this(string.Empty, -1, string.Empty, "A network command failed.")
    {
    }

    /// <summary>Creates an exception with only a message.</summary>
    public NetworkCommandException(string message)
        : this(string.Empty, -1, string.Empty, message)
    {
    }

    /// <summary>Creates an exception with only a message and its cause.</summary>
    public NetworkCommandException(string message, Exception innerException)
        : this(string.Empty, -1, string.Empty, message, innerException)
    {
    }

    /// <summary>The command line, as run (program and arguments, space-separated).</summary>
    public string Command { get; }

    /// <summary>The exit code; -1 when the command did not exit on its own (timeout, not started).</summary>
    public int ExitCode { get; }

    /// <summary>What the command wrote to stderr (trimmed, bounded).</summary>
    public string StandardError { get; }
}
