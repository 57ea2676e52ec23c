namespace KataWorkflows.Activities.Faults;

/// <summary>What an injected fault does.</summary>
public enum FaultMode
{
    /// <summary>The activity fails with <see cref="InjectedFaultException"/> (a retriable failure; force does not skip it).</summary>
    Fail,

    /// <summary>The activity waits until its cancellation token fires (host shutdown), as a hung driver would.</summary>
    Hang,

    /// <summary>The whole process dies with SIGKILL, as in a crash: nothing after it runs, no <c>finally</c>, no flush of buffered logs.</summary>
    KillProcess,

    /// <summary>
    /// A driver call inside the activity fails with <see cref="InjectedFaultException"/>. Unlike <see cref="Fail"/>,
    /// this happens where the activity calls its drivers, so a request with <c>Force</c> logs it and goes on.
    /// </summary>
    DriverError,
}
