using System.Collections.Concurrent;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Agents.Noop;

/// <summary>
/// Kata's <c>noopAgent</c> (AgentType <c>noop</c>): every call succeeds with zero or empty values; a container's
/// process has pid 0 and an empty token, the guest details are zeros. It keeps the guest side it would have set up
/// (sandboxes, containers, interfaces, routes) in a thread-safe book, so tests can assert what was created and what
/// was removed. Unlike Kata's, <see cref="UpdateInterfaceAsync"/> and <see cref="UpdateRoutesAsync"/> return what
/// they were given (as a real agent does) rather than nothing, and the list calls return what was applied.
/// </summary>
public sealed class NoopAgent : IAgent
{
    /// <summary>The agent type name.</summary>
    public const string TypeName = "noop";

    private readonly ConcurrentDictionary<string, Guest> _guests = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    /// <summary>Creates the agent.</summary>
    public NoopAgent(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
    }

    /// <summary>The sandboxes with a guest side (created, or with containers) that was not destroyed.</summary>
    public IReadOnlyCollection<string> Sandboxes => _guests.Keys.ToList();

    /// <summary>The containers created in a sandbox and not removed, in creation order.</summary>
    public IReadOnlyList<string> ContainersOf(string sandboxId)
    {
        if (!_guests.TryGetValue(sandboxId, out var guest))
        {
            return [];
        }

        lock (guest.Gate)
        {
            return guest.Containers.Keys.ToList();
        }
    }

    /// <inheritdoc />
    public Task CreateSandboxAsync(string sandboxId, SandboxConfig config, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        GuestOf(sandboxId);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task DestroySandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _guests.TryRemove(sandboxId, out _);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<GuestDetails> GetGuestDetailsAsync(string sandboxId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(new GuestDetails());
    }

    /// <inheritdoc />
    public Task<ProcessInfo> CreateContainerAsync(string sandboxId, ContainerConfig container, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(container);
        cancellationToken.ThrowIfCancellationRequested();
        var guest = GuestOf(sandboxId);
        lock (guest.Gate)
        {
            if (!guest.Containers.TryGetValue(container.Id, out var process))
            {
                process = new ProcessInfo(string.Empty, 0, _time.GetUtcNow().UtcDateTime);
                guest.Containers.Add(container.Id, process);
            }

            return Task.FromResult(process);
        }
    }

    /// <inheritdoc />
    public Task StartContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken) => Done(cancellationToken);

    /// <inheritdoc />
    public Task RemoveContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_guests.TryGetValue(sandboxId, out var guest))
        {
            lock (guest.Gate)
            {
                guest.Containers.Remove(containerId);
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task SignalProcessAsync(string sandboxId, string containerId, string execId, int signal, bool all, CancellationToken cancellationToken) =>
        Done(cancellationToken);

    /// <inheritdoc />
    public Task<int> WaitProcessAsync(string sandboxId, string containerId, string execId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(0);
    }

    /// <inheritdoc />
    public Task<ProcessInfo> ExecProcessAsync(string sandboxId, string containerId, Cmd cmd, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(new ProcessInfo(string.Empty, 0, _time.GetUtcNow().UtcDateTime));
    }

    /// <inheritdoc />
    public Task UpdateContainerAsync(string sandboxId, string containerId, ContainerResources resources, CancellationToken cancellationToken) =>
        Done(cancellationToken);

    /// <inheritdoc />
    public Task PauseContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken) => Done(cancellationToken);

    /// <inheritdoc />
    public Task ResumeContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken) => Done(cancellationToken);

    /// <inheritdoc />
    public Task<ContainerStats> StatsContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(ContainerStats.Empty);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ProcessRow>> ListProcessesAsync(string sandboxId, string containerId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult<IReadOnlyList<ProcessRow>>([]);
    }

    /// <inheritdoc />
    public Task<InterfaceRecord> UpdateInterfaceAsync(string sandboxId, InterfaceRecord iface, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(iface);
        cancellationToken.ThrowIfCancellationRequested();
        var guest = GuestOf(sandboxId);
        lock (guest.Gate)
        {
            guest.Interfaces.RemoveAll(i => i.Name == iface.Name);
            guest.Interfaces.Add(iface);
        }

        return Task.FromResult(iface);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RouteRecord>> UpdateRoutesAsync(string sandboxId, IReadOnlyList<RouteRecord> routes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(routes);
        cancellationToken.ThrowIfCancellationRequested();
        var applied = routes.ToList();
        var guest = GuestOf(sandboxId);
        lock (guest.Gate)
        {
            guest.Routes = applied;
        }

        return Task.FromResult<IReadOnlyList<RouteRecord>>(applied);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<InterfaceRecord>> ListInterfacesAsync(string sandboxId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!_guests.TryGetValue(sandboxId, out var guest))
        {
            return Task.FromResult<IReadOnlyList<InterfaceRecord>>([]);
        }

        lock (guest.Gate)
        {
            return Task.FromResult<IReadOnlyList<InterfaceRecord>>(guest.Interfaces.ToList());
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RouteRecord>> ListRoutesAsync(string sandboxId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!_guests.TryGetValue(sandboxId, out var guest))
        {
            return Task.FromResult<IReadOnlyList<RouteRecord>>([]);
        }

        lock (guest.Gate)
        {
            return Task.FromResult<IReadOnlyList<RouteRecord>>(guest.Routes);
        }
    }

    private static Task Done(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.CompletedTask;
    }

    private Guest GuestOf(string sandboxId)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        return _guests.GetOrAdd(sandboxId, _ => new Guest());
    }

    private sealed class Guest
    {
        public Lock Gate { get; } = new();

        public OrderedDictionary<string, ProcessInfo> Containers { get; } = new(StringComparer.Ordinal);

        public List<InterfaceRecord> Interfaces { get; } = [];

        public IReadOnlyList<RouteRecord> Routes { get; set; } = [];
    }
}
