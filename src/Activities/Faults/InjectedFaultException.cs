using KataWorkflows.Engine;

namespace KataWorkflows.Activities.Faults;

/// <summary>A failure injected by a <see cref="FaultRule"/>. Retriable, so retry policies see it as a driver fault.</summary>
public sealed class InjectedFaultException : DurableTaskException
{
    /// <summary>Creates the exception.</summary>
    public InjectedFaultException(string step, string message)
        : base(message)
    {
        Step = step;
    }

    /// <summary>The activity it was injected into.</summary>
    public string Step { get; }
}
