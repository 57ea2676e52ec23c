namespace KataWorkflows.Activities.Faults;

/// <summary>When a fault strikes, relative to the work it is attached to (the activity, or for <see cref="FaultMode.DriverError"/> a driver call).</summary>
public enum FaultPoint
{
    /// <summary>Before the work: nothing was done.</summary>
    Before,

    /// <summary>After the work succeeded: its side effects are there, but its result is never reported.</summary>
    After,
}
