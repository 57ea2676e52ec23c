namespace KataWorkflows.Host.Configuration;

/// <summary>The host's configuration is invalid; the message names every bad key.</summary>
internal sealed class HostConfigurationException : Exception
{
    /// <summary>Creates the exception from the errors found, each starting with its key.</summary>
    public HostConfigurationException(IReadOnlyList<string> errors, Exception? inner = null)
        : base("Invalid configuration: " + string.Join("; ", errors), inner)
    {
        Errors = errors;
    }

    /// <summary>The errors, each <c>Key: what is wrong</c>.</summary>
    public IReadOnlyList<string> Errors { get; }
}
