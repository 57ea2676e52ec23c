using KataWorkflows.Activities.Agents;
using KataWorkflows.Activities.Agents.Noop;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Orchestrations.Tests.Harness;

/// <summary>The noop agent, registered in its place, noting every call in <see cref="DriverCalls"/>.</summary>
public sealed class RecordingAgent(NoopAgent inner, DriverCalls calls) : IAgent
{
    /// <inheritdoc />
    public Task CreateSandboxAsync(string sandboxId, SandboxConfig config, CancellationToken cancellationToken)
    {
        calls.Add($"agent.createSandbox {sandboxId}");
        return inner.CreateSandboxAsync(sandboxId, config, cancellationToken);
    }

    /// <inheritdoc />
    public Task DestroySandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        calls.Add($"agent.destroySandbox {sandboxId}");
        return inner.DestroySandboxAsync(sandboxId, cancellationToken);
    }

    /// <inheritdoc />
    public Task<GuestDetails> GetGuestDetailsAsync(string sandboxId, CancellationToken cancellationToken)
    {
        calls.Add($"agent.getGuestDetails {sandboxId}");
        return inner.GetGuestDetailsAsync(sandboxId, cancellationToken);
    }

    /// <inheritdoc />
    public Task<ProcessInfo> CreateContainerAsync(string sandboxId, ContainerConfig container, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(container);
        calls.Add($"agent.createContainer {sandboxId} {container.Id}");
        return inner.CreateContainerAsync(sandboxId, container, cancellationToken);
    }

    /// <inheritdoc />
    public Task StartContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken)
    {
        calls.Add($"agent.startContainer {sandboxId} {containerId}");
        return inner.StartContainerAsync(sandboxId, containerId, cancellationToken);
    }

    /// <inheritdoc />
    public Task RemoveContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken)
    {
        calls.Add($"agent.removeContainer {sandboxId} {containerId}");
        return inner.RemoveContainerAsync(sandboxId, containerId, cancellationToken);
    }

    /// <inheritdoc />
    public Task SignalProcessAsync(string sandboxId, string containerId, string execId, int signal, bool all, CancellationToken cancellationToken)
    {
        calls.Add($"agent.signalProcess {sandboxId} {containerId} {signal} all={all}");
        return inner.SignalProcessAsync(sandboxId, containerId, execId, signal, all, cancellationToken);
    }

    /// <inheritdoc />
    public Task<int> WaitProcessAsync(string sandboxId, string containerId, string execId, CancellationToken cancellationToken)
    {
        calls.Add($"agent.waitProcess {sandboxId} {containerId}");
        return inner.WaitProcessAsync(sandboxId, containerId, execId, cancellationToken);
    }

    /// <inheritdoc />
    public Task<byte[]> ReadOutputAsync(string sandboxId, string containerId, string execId, bool stderr, int maxBytes, CancellationToken cancellationToken)
    {
        calls.Add($"agent.readOutput {sandboxId} {containerId}");
        return inner.ReadOutputAsync(sandboxId, containerId, execId, stderr, maxBytes, cancellationToken);
    }

    /// <inheritdoc />
    public Task<ProcessInfo> ExecProcessAsync(string sandboxId, string containerId, Cmd cmd, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cmd);
        calls.Add($"agent.execProcess {sandboxId} {containerId} {string.Join(' ', cmd.Args)}");
        return inner.ExecProcessAsync(sandboxId, containerId, cmd, cancellationToken);
    }

    /// <inheritdoc />
    public Task UpdateContainerAsync(string sandboxId, string containerId, ContainerResources resources, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resources);
        calls.Add($"agent.updateContainer {sandboxId} {containerId} period={resources.CpuPeriod} quota={resources.CpuQuota} memory={resources.MemoryLimitBytes}");
        return inner.UpdateContainerAsync(sandboxId, containerId, resources, cancellationToken);
    }

    /// <inheritdoc />
    public Task PauseContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken)
    {
        calls.Add($"agent.pauseContainer {sandboxId} {containerId}");
        return inner.PauseContainerAsync(sandboxId, containerId, cancellationToken);
    }

    /// <inheritdoc />
    public Task ResumeContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken)
    {
        calls.Add($"agent.resumeContainer {sandboxId} {containerId}");
        return inner.ResumeContainerAsync(sandboxId, containerId, cancellationToken);
    }

    /// <inheritdoc />
    public Task<ContainerStats> StatsContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken) =>
        inner.StatsContainerAsync(sandboxId, containerId, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<ProcessRow>> ListProcessesAsync(string sandboxId, string containerId, CancellationToken cancellationToken) =>
        inner.ListProcessesAsync(sandboxId, containerId, cancellationToken);

    /// <inheritdoc />
    public Task<InterfaceRecord> UpdateInterfaceAsync(string sandboxId, InterfaceRecord iface, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(iface);
        calls.Add($"agent.updateInterface {sandboxId} {iface.Name} {iface.HwAddr}");
        return inner.UpdateInterfaceAsync(sandboxId, iface, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RouteRecord>> UpdateRoutesAsync(string sandboxId, IReadOnlyList<RouteRecord> routes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(routes);
        calls.Add($"agent.updateRoutes {sandboxId} {routes.Count}");
        return inner.UpdateRoutesAsync(sandboxId, routes, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<InterfaceRecord>> ListInterfacesAsync(string sandboxId, CancellationToken cancellationToken) =>
        inner.ListInterfacesAsync(sandboxId, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<RouteRecord>> ListRoutesAsync(string sandboxId, CancellationToken cancellationToken) =>
        inner.ListRoutesAsync(sandboxId, cancellationToken);
}
