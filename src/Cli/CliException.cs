namespace KataWorkflows.Cli;

/// <summary>A failure the CLI reports as one message on stderr and the given exit code.</summary>
public sealed class CliException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CliException(int exitCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ExitCode = exitCode;
    }

    /// <summary>Creates a generic error.</summary>
    public CliException()
        : this(ExitCodes.Error, "error")
    {
    }

    /// <summary>Creates a generic error with a message.</summary>
    public CliException(string message)
        : this(ExitCodes.Error, message)
    {
    }

    /// <summary>Creates a generic error with a message and a cause.</summary>
    public CliException(string message, Exception innerException)
        : this(ExitCodes.Error, message, innerException)
    {
    }

    /// <summary>The process exit code (one of <see cref="ExitCodes"/>).</summary>
    public int ExitCode { get; }

    /// <summary>A usage error: the message names what is wrong.</summary>
    public static CliException Usage(string message) => new(ExitCodes.Usage, message);
}
