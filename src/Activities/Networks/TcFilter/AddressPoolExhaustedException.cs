using KataWorkflows.Engine;

namespace KataWorkflows.Activities.Networks.TcFilter;

/// <summary>
/// Every subnet of the tcfilter driver's address pool is leased. A retry cannot help until a sandbox is removed, so the
/// failure is not retried; the message names the pool and its configuration key.
/// </summary>
public sealed class AddressPoolExhaustedException : DurableTaskException, INonRetriable
{
    /// <summary>Creates the exception.</summary>
    public AddressPoolExhaustedException(string message)
        : base(message)
    {
    }
}
