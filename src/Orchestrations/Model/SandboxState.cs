namespace KataWorkflows.Orchestrations.Model;

/// <summary>The states a sandbox and a container move through (Kata's <c>StateString</c>).</summary>
public enum SandboxState
{
    /// <summary>Created, not started.</summary>
    Ready,

    /// <summary>Started.</summary>
    Running,

    /// <summary>Paused.</summary>
    Paused,

    /// <summary>Stopped.</summary>
    Stopped,
}

/// <summary>Kata's transition table, shared by sandboxes and containers.</summary>
public static class StateTransitions
{
    /// <summary>True when <paramref name="to"/> may follow <paramref name="from"/>.</summary>
    public static bool IsAllowed(SandboxState from, SandboxState to) => (from, to) switch
    {
        (SandboxState.Ready, SandboxState.Running or SandboxState.Stopped) => true,
        (SandboxState.Running, SandboxState.Paused or SandboxState.Stopped) => true,
        (SandboxState.Paused, SandboxState.Running or SandboxState.Stopped) => true,
        (SandboxState.Stopped, SandboxState.Running) => true,
        _ => false,
    };

    /// <summary>
    /// Checks a transition the way Kata's <c>ValidTransition(old, new)</c> does: the current state must be
    /// <paramref name="expected"/>, and the move must be in the table. The messages keep Kata's prefixes.
    /// </summary>
    /// <exception cref="InvalidStateTransitionException">The current state is not the expected one, or the move is not allowed.</exception>
    public static void Validate(string subject, SandboxState current, SandboxState expected, SandboxState to)
    {
        if (current != expected)
        {
            throw new InvalidStateTransitionException(subject, current, to, $"Invalid state {Name(current)} (Expecting {Name(expected)})");
        }

        if (!IsAllowed(current, to))
        {
            throw new InvalidStateTransitionException(subject, current, to, $"Can not move from {Name(current)} to {Name(to)}");
        }
    }

    /// <summary>Validates a move from the current state.</summary>
    public static void Validate(string subject, SandboxState current, SandboxState to) => Validate(subject, current, current, to);

    /// <summary>Kata's lower-case state name.</summary>
    public static string Name(SandboxState state) => state.ToString().ToLowerInvariant();
}
