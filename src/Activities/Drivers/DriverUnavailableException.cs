using KataWorkflows.Engine;

namespace KataWorkflows.Activities.Drivers;

/// <summary>
/// A sandbox names a driver this host does not have. Retrying cannot help (it is configuration, not a transient
/// fault), so the failure is marked non-retriable.
/// </summary>
public sealed class DriverUnavailableException : DurableTaskException, INonRetriable
{
    /// <summary>Creates the exception.</summary>
    public DriverUnavailableException(DriverKind kind, string name, string message)
        : base(message)
    {
        Kind = kind;
        Name = name;
    }

    /// <summary>The role of the missing driver.</summary>
    public DriverKind Kind { get; }

    /// <summary>The type name the sandbox asked for.</summary>
    public string Name { get; }
}
