namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>QMP <c>query-status</c>'s answer.</summary>
/// <param name="Status">The run state: <c>running</c>, <c>paused</c>, <c>prelaunch</c>, <c>shutdown</c>, <c>internal-error</c>, <c>guest-panicked</c>...</param>
/// <param name="Running">Whether the vCPUs run.</param>
public sealed record QmpStatus(string Status, bool Running);
