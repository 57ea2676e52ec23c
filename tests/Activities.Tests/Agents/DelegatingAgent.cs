using KataWorkflows.Activities.Agents;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Tests;

/// <summary>An agent that passes every call on; tests override the calls they want to break.</summary>
internal abstract class DelegatingAgent(IAgent inner) : IAgent
{
    protected IAgent Inner { get; } = inner;

    public virtual Task CreateSandboxAsync(string sandboxId, SandboxConfig config, CancellationToken cancellationToken) => Inner.CreateSandboxAsync(sandboxId, config, cancellationToken);

    public virtual Task DestroySandboxAsync(string sandboxId, CancellationToken cancellationToken) => Inner.DestroySandboxAsync(sandboxId, cancellationToken);

    public virtual Task<GuestDetails> GetGuestDetailsAsync(string sandboxId, CancellationToken cancellationToken) => Inner.GetGuestDetailsAsync(sandboxId, cancellationToken);

    public virtual Task<ProcessInfo> CreateContainerAsync(string sandboxId, ContainerConfig container, CancellationToken cancellationToken) =>
        Inner.CreateContainerAsync(sandboxId, container, cancellationToken);

    public virtual Task StartContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken) => Inner.StartContainerAsync(sandboxId, containerId, cancellationToken);

    public virtual Task RemoveContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken) => Inner.RemoveContainerAsync(sandboxId, containerId, cancellationToken);

    public virtual Task SignalProcessAsync(string sandboxId, string containerId, string execId, int signal, bool all, CancellationToken cancellationToken) =>
        Inner.SignalProcessAsync(sandboxId, containerId, execId, signal, all, cancellationToken);

    public virtual Task<int> WaitProcessAsync(string sandboxId, string containerId, string execId, CancellationToken cancellationToken) =>
        Inner.WaitProcessAsync(sandboxId, containerId, execId, cancellationToken);

    public virtual Task<byte[]> ReadOutputAsync(string sandboxId, string containerId, string execId, bool stderr, int maxBytes, CancellationToken cancellationToken) =>
        Inner.ReadOutputAsync(sandboxId, containerId, execId, stderr, maxBytes, cancellationToken);

    public virtual Task<ProcessInfo> ExecProcessAsync(string sandboxId, string containerId, Cmd cmd, CancellationToken cancellationToken) =>
        Inner.ExecProcessAsync(sandboxId, containerId, cmd, cancellationToken);

    public virtual Task UpdateContainerAsync(string sandboxId, string containerId, ContainerResources resources, CancellationToken cancellationToken) =>
        Inner.UpdateContainerAsync(sandboxId, containerId, resources, cancellationToken);

    public virtual Task PauseContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken) => Inner.PauseContainerAsync(sandboxId, containerId, cancellationToken);

    public virtual Task ResumeContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken) => Inner.ResumeContainerAsync(sandboxId, containerId, cancellationToken);

    public virtual Task<ContainerStats> StatsContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken) =>
        Inner.StatsContainerAsync(sandboxId, containerId, cancellationToken);

    public virtual Task<IReadOnlyList<ProcessRow>> ListProcessesAsync(string sandboxId, string containerId, CancellationToken cancellationToken) =>
        Inner.ListProcessesAsync(sandboxId, containerId, cancellationToken);

    public virtual Task<InterfaceRecord> UpdateInterfaceAsync(string sandboxId, InterfaceRecord iface, CancellationToken cancellationToken) =>
        Inner.UpdateInterfaceAsync(sandboxId, iface, cancellationToken);

    public virtual Task<IReadOnlyList<RouteRecord>> UpdateRoutesAsync(string sandboxId, IReadOnlyList<RouteRecord> routes, CancellationToken cancellationToken) =>
        Inner.UpdateRoutesAsync(sandboxId, routes, cancellationToken);

    public virtual Task<IReadOnlyList<InterfaceRecord>> ListInterfacesAsync(string sandboxId, CancellationToken cancellationToken) => Inner.ListInterfacesAsync(sandboxId, cancellationToken);

    public virtual Task<IReadOnlyList<RouteRecord>> ListRoutesAsync(string sandboxId, CancellationToken cancellationToken) => Inner.ListRoutesAsync(sandboxId, cancellationToken);
}
