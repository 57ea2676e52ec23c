using KataWorkflows.Activities.Drivers;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Agents.Noop;

/// <summary>
/// Kata's <c>noopAgent</c> (AgentType <c>noop</c>): every call succeeds with zero or empty values; a container's
/// process has pid 0 and an empty token, the guest details are zeros. It keeps the guest side it would have set up
/// (sandboxes, containers, interfaces, routes) in a thread-safe book, so tests can assert what was created and what
/// was removed: in memory by default, or, with <see cref="MockDriverOptions.StateDirectory"/>, also one file per guest
/// under <c>&lt;dir&gt;/noop-agent</c> (a <see cref="NoopGuestState"/>), which a new process over the same directory
/// reads back (a real guest outlives the host process that started its VM). Unlike Kata's, <see cref="UpdateInterfaceAsync"/> and <see cref="UpdateRoutesAsync"/> return what
/// they were given (as a real agent does) rather than nothing, and the list calls return what was applied.
/// </summary>
public sealed class NoopAgent : IAgent
{
    /// <summary>The agent type name.</summary>
    public const string TypeName = "noop";

    /// <summary>The sub-directory of <see cref="MockDriverOptions.StateDirectory"/> that holds the guests.</summary>
    public const string StateSubdirectory = "noop-agent";

    // One gate for the book and its files: a file is written from the book as it is after the change, in change order.
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Guest> _guests = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly DriverStateFiles<NoopGuestState>? _files;

    /// <summary>Creates an agent whose guests live in memory only.</summary>
    public NoopAgent(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
    }

    /// <summary>Creates an agent that keeps its guests under <see cref="MockDriverOptions.StateDirectory"/> when it is set, and reads back those a previous process left.</summary>
    /// <exception cref="InvalidDataException">A state file is not valid.</exception>
    public NoopAgent(TimeProvider time, IOptions<MockDriverOptions> options)
        : this(time)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Value.StateDirectory is { Length: > 0 } directory)
        {
            _files = new DriverStateFiles<NoopGuestState>(Path.Combine(directory, StateSubdirectory));
            foreach (var (sandboxId, state) in _files.ReadAll())
            {
                _guests[sandboxId] = Guest.From(state);
            }
        }
    }

    /// <summary>The sandboxes with a guest side (created, or with containers) that was not destroyed.</summary>
    public IReadOnlyCollection<string> Sandboxes
    {
        get
        {
            lock (_gate)
            {
                return _guests.Keys.ToList();
            }
        }
    }

    /// <summary>The containers created in a sandbox and not removed, in creation order.</summary>
    public IReadOnlyList<string> ContainersOf(string sandboxId)
    {
        lock (_gate)
        {
            return _guests.TryGetValue(sandboxId, out var guest) ? guest.Containers.Keys.ToList() : [];
        }
    }

    /// <inheritdoc />
    public Task CreateSandboxAsync(string sandboxId, SandboxConfig config, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            GuestOf(sandboxId);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task DestroySandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            _files?.Delete(sandboxId);
            _guests.Remove(sandboxId);
        }

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
        lock (_gate)
        {
            var guest = GuestOf(sandboxId);
            if (!guest.Containers.TryGetValue(container.Id, out var process))
            {
                process = new ProcessInfo(string.Empty, 0, _time.GetUtcNow().UtcDateTime);
                guest.Containers.Add(container.Id, process);
                Save(sandboxId, guest);
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
        lock (_gate)
        {
            if (_guests.TryGetValue(sandboxId, out var guest) && guest.Containers.Remove(containerId))
            {
                Save(sandboxId, guest);
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
    public Task<byte[]> ReadOutputAsync(string sandboxId, string containerId, string execId, bool stderr, int maxBytes, CancellationToken cancellationToken)
    {
        // Kata's noop agent runs nothing, so a process has no output.
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Array.Empty<byte>());
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
        lock (_gate)
        {
            var guest = GuestOf(sandboxId);
            guest.Interfaces.RemoveAll(i => i.Name == iface.Name);
            guest.Interfaces.Add(iface);
            Save(sandboxId, guest);
        }

        return Task.FromResult(iface);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RouteRecord>> UpdateRoutesAsync(string sandboxId, IReadOnlyList<RouteRecord> routes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(routes);
        cancellationToken.ThrowIfCancellationRequested();
        var applied = routes.ToList();
        lock (_gate)
        {
            var guest = GuestOf(sandboxId);
            guest.Routes = applied;
            Save(sandboxId, guest);
        }

        return Task.FromResult<IReadOnlyList<RouteRecord>>(applied);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<InterfaceRecord>> ListInterfacesAsync(string sandboxId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<InterfaceRecord>>(_guests.TryGetValue(sandboxId, out var guest) ? guest.Interfaces.ToList() : []);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RouteRecord>> ListRoutesAsync(string sandboxId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return Task.FromResult(_guests.TryGetValue(sandboxId, out var guest) ? guest.Routes : []);
        }
    }

    private static Task Done(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.CompletedTask;
    }

    // Called under the gate.
    private Guest GuestOf(string sandboxId)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        if (!_guests.TryGetValue(sandboxId, out var guest))
        {
            guest = new Guest();
            Save(sandboxId, guest);
            _guests[sandboxId] = guest;
        }

        return guest;
    }

    // Called under the gate, after the change.
    private void Save(string sandboxId, Guest guest) => _files?.Write(sandboxId, guest.ToState());

    private sealed class Guest
    {
        public OrderedDictionary<string, ProcessInfo> Containers { get; } = new(StringComparer.Ordinal);

        public List<InterfaceRecord> Interfaces { get; } = [];

        public IReadOnlyList<RouteRecord> Routes { get; set; } = [];

        public static Guest From(NoopGuestState state)
        {
            var guest = new Guest { Routes = state.Routes };
            foreach (var container in state.Containers)
            {
                guest.Containers[container.Id] = container.Process;
            }

            guest.Interfaces.AddRange(state.Interfaces);
            return guest;
        }

        public NoopGuestState ToState() => new()
        {
            Containers = Containers.Select(c => new NoopContainerState(c.Key, c.Value)).ToList(),
            Interfaces = Interfaces.ToList(),
            Routes = Routes,
        };
    }
}
