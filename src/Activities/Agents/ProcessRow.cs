namespace KataWorkflows.Activities.Agents;

/// <summary>One process of a container, as <c>ps</c> in the guest lists it.</summary>
/// <param name="Pid">The process id in the guest.</param>
/// <param name="User">The user it runs as.</param>
/// <param name="Command">Its command line.</param>
public sealed record ProcessRow(int Pid, string User, string Command);
