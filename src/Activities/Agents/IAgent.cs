using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Agents;

/// <summary>
/// Talks to the agent in a sandbox's guest (Kata's <c>agent</c> interface: the <c>AgentService</c> RPCs the
/// sandbox calls need). Activities run at least once, so the mutating members must be idempotent: creating a
/// container that exists returns its process, removing one that is gone succeeds, destroying a destroyed sandbox
/// succeeds. An empty <c>execId</c> names a container's first process.
/// </summary>
public interface IAgent
{
    /// <summary>Sets the guest up for the sandbox (Kata's <c>startSandbox</c>: the <c>CreateSandbox</c> RPC).</summary>
    Task CreateSandboxAsync(string sandboxId, SandboxConfig config, CancellationToken cancellationToken);

    /// <summary>Tears the guest side of the sandbox down (<c>DestroySandbox</c>); its containers go with it.</summary>
    Task DestroySandboxAsync(string sandboxId, CancellationToken cancellationToken);

    /// <summary>What the guest reports about itself (<c>GetGuestDetails</c>).</summary>
    Task<GuestDetails> GetGuestDetailsAsync(string sandboxId, CancellationToken cancellationToken);

    /// <summary>Creates a container and its first process, not yet started (<c>CreateContainer</c>).</summary>
    /// <returns>The first process: its agent token and guest pid.</returns>
    Task<ProcessInfo> CreateContainerAsync(string sandboxId, ContainerConfig container, CancellationToken cancellationToken);

    /// <summary>Starts a created container's first process (<c>StartContainer</c>).</summary>
    Task StartContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken);

    /// <summary>Removes a container from the guest (Kata's <c>stopContainer</c>: the <c>RemoveContainer</c> RPC).</summary>
    Task RemoveContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken);

    /// <summary>Sends a signal to a process of a container, or to all of them (<c>SignalProcess</c>).</summary>
    Task SignalProcessAsync(string sandboxId, string containerId, string execId, int signal, bool all, CancellationToken cancellationToken);

    /// <summary>Waits for a process to exit and returns its exit status (<c>WaitProcess</c>).</summary>
    Task<int> WaitProcessAsync(string sandboxId, string containerId, string execId, CancellationToken cancellationToken);

    /// <summary>Runs a new process in a container (<c>ExecProcess</c>).</summary>
    Task<ProcessInfo> ExecProcessAsync(string sandboxId, string containerId, Cmd cmd, CancellationToken cancellationToken);

    /// <summary>
    /// Reads a process's stdout or stderr to its end (<c>ReadStdout</c> / <c>ReadStderr</c> until EOF) and returns the
    /// first <paramref name="maxBytes"/> bytes; what comes after is read and dropped, so the process is never blocked
    /// on a full pipe and the host never holds more than that.
    /// </summary>
    Task<byte[]> ReadOutputAsync(string sandboxId, string containerId, string execId, bool stderr, int maxBytes, CancellationToken cancellationToken);

    /// <summary>Applies new resource limits to a container (<c>UpdateContainer</c>).</summary>
    Task UpdateContainerAsync(string sandboxId, string containerId, ContainerResources resources, CancellationToken cancellationToken);

    /// <summary>Freezes a container (<c>PauseContainer</c>).</summary>
    Task PauseContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken);

    /// <summary>Thaws a container (<c>ResumeContainer</c>).</summary>
    Task ResumeContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken);

    /// <summary>A container's resource usage (<c>StatsContainer</c>).</summary>
    Task<ContainerStats> StatsContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken);

    /// <summary>A container's processes (<c>ListProcesses</c>).</summary>
    Task<IReadOnlyList<ProcessRow>> ListProcessesAsync(string sandboxId, string containerId, CancellationToken cancellationToken);

    /// <summary>Configures a guest interface and returns it as applied (<c>UpdateInterface</c>).</summary>
    Task<InterfaceRecord> UpdateInterfaceAsync(string sandboxId, InterfaceRecord iface, CancellationToken cancellationToken);

    /// <summary>Replaces the guest's routes and returns them as applied (<c>UpdateRoutes</c>).</summary>
    Task<IReadOnlyList<RouteRecord>> UpdateRoutesAsync(string sandboxId, IReadOnlyList<RouteRecord> routes, CancellationToken cancellationToken);

    /// <summary>The guest's interfaces (<c>ListInterfaces</c>).</summary>
    Task<IReadOnlyList<InterfaceRecord>> ListInterfacesAsync(string sandboxId, CancellationToken cancellationToken);

    /// <summary>The guest's routes (<c>ListRoutes</c>).</summary>
    Task<IReadOnlyList<RouteRecord>> ListRoutesAsync(string sandboxId, CancellationToken cancellationToken);
}
