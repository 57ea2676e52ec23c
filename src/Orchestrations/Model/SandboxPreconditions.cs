namespace KataWorkflows.Orchestrations.Model;

/// <summary>
/// The state a sandbox or container must be in for a call, with Kata's messages (<c>container.go</c>,
/// <c>sandbox.go</c>). Each message keeps Kata's text as its prefix and adds which state was found, so the
/// orchestrations and the live reads (process list, stats) refuse a call in the same words.
/// </summary>
public static class SandboxPreconditions
{
    /// <summary>Kata's <c>checkSandboxRunning("ps")</c>.</summary>
    public const string ProcessListSandboxNotRunning = "Sandbox not running, impossible to ps the container";

    /// <summary>Kata's <c>processList</c> on a container that is not running.</summary>
    public const string ProcessListContainerNotRunning = "Container not running, impossible to list processes";

    /// <summary>Kata's <c>checkSandboxRunning("stats")</c>.</summary>
    public const string StatsSandboxNotRunning = "Sandbox not running, impossible to stats the container";

    /// <summary>Refuses the call unless the sandbox is in one of <paramref name="allowed"/>.</summary>
    /// <exception cref="SandboxPreconditionException">"<paramref name="message"/> (sandbox &lt;id&gt; is &lt;state&gt;)".</exception>
    public static void RequireSandboxState(SandboxRecord sandbox, string message, params SandboxState[] allowed)
    {
        ArgumentNullException.ThrowIfNull(sandbox);
        ArgumentNullException.ThrowIfNull(allowed);
        if (!allowed.Contains(sandbox.State))
        {
            throw new SandboxPreconditionException($"{message} (sandbox {sandbox.Id} is {StateTransitions.Name(sandbox.State)})");
        }
    }

    /// <summary>Refuses the call unless the container is in one of <paramref name="allowed"/>.</summary>
    /// <exception cref="SandboxPreconditionException">"<paramref name="message"/> (container &lt;id&gt; is &lt;state&gt;)".</exception>
    public static void RequireContainerState(ContainerRecord container, string message, params SandboxState[] allowed)
    {
        ArgumentNullException.ThrowIfNull(container);
        ArgumentNullException.ThrowIfNull(allowed);
        if (!allowed.Contains(container.State))
        {
            throw new SandboxPreconditionException($"{message} (container {container.Id} is {StateTransitions.Name(container.State)})");
        }
    }

    /// <summary>ProcessListContainer: a running container of a running sandbox (the sandbox is checked first, as in Kata).</summary>
    /// <exception cref="SandboxPreconditionException">Either is not running.</exception>
    public static void ForProcessList(SandboxRecord sandbox, ContainerRecord container)
    {
        RequireSandboxState(sandbox, ProcessListSandboxNotRunning, SandboxState.Running);
        RequireContainerState(container, ProcessListContainerNotRunning, SandboxState.Running);
    }

    /// <summary>StatsContainer (and StatsSandbox, which reads each container's): the sandbox must be running; any container state will do.</summary>
    /// <exception cref="SandboxPreconditionException">The sandbox is not running.</exception>
    public static void ForStats(SandboxRecord sandbox) =>
        RequireSandboxState(sandbox, StatsSandboxNotRunning, SandboxState.Running);
}
