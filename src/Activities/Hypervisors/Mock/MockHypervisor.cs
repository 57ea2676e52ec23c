using KataWorkflows.Activities.Drivers;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Hypervisors.Mock;

/// <summary>
/// Kata's <c>mockHypervisor</c> (HypervisorType <c>mock</c>): starting validates the hypervisor configuration as
/// Kata's <c>createSandbox</c> does; start, stop, pause, resume, check, device attach and interface hot-plug then
/// succeed, with pid 0. It keeps a thread-safe registry of the VMs it "runs" and of the interfaces plugged into them,
/// so tests can assert that nothing was left behind: in memory by default, or, with
/// <see cref="MockDriverOptions.StateDirectory"/>, also one file per VM under <c>&lt;dir&gt;/mock-hypervisor</c> and
/// one per VM with plugged interfaces under <c>&lt;dir&gt;/mock-hypervisor-interfaces</c>, which a new process over the
/// same directory reads back (a real VM outlives the host process that started it).
/// </summary>
public sealed class MockHypervisor : IHypervisor
{
    /// <summary>The hypervisor type name.</summary>
    public const string TypeName = "mock";

    /// <summary>The sub-directory of <see cref="MockDriverOptions.StateDirectory"/> that holds the VMs.</summary>
    public const string StateSubdirectory = "mock-hypervisor";

    /// <summary>The sub-directory of <see cref="MockDriverOptions.StateDirectory"/> that holds the plugged interfaces.</summary>
    public const string InterfacesSubdirectory = "mock-hypervisor-interfaces";

    private readonly Lock _gate = new();
    private readonly Dictionary<string, VmState> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<InterfaceRecord>> _interfaces = new(StringComparer.Ordinal);
    private readonly DriverStateFiles<VmState>? _files;
    private readonly DriverStateFiles<List<InterfaceRecord>>? _interfaceFiles;

    /// <summary>Creates a mock whose VMs live in memory only.</summary>
    public MockHypervisor()
    {
    }

    /// <summary>Creates a mock that keeps its VMs under <see cref="MockDriverOptions.StateDirectory"/> when it is set, and reads back those a previous process left.</summary>
    /// <exception cref="InvalidDataException">A state file is not valid.</exception>
    public MockHypervisor(IOptions<MockDriverOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Value.StateDirectory is { Length: > 0 } directory)
        {
            _files = new DriverStateFiles<VmState>(Path.Combine(directory, StateSubdirectory));
            foreach (var (sandboxId, vm) in _files.ReadAll())
            {
                _running[sandboxId] = vm;
            }

            _interfaceFiles = new DriverStateFiles<List<InterfaceRecord>>(Path.Combine(directory, InterfacesSubdirectory));
            foreach (var (sandboxId, interfaces) in _interfaceFiles.ReadAll())
            {
                _interfaces[sandboxId] = interfaces;
            }
        }
    }

    /// <summary>The sandboxes whose VM is running (or paused), in no particular order.</summary>
    public IReadOnlyCollection<string> RunningVms
    {
        get
        {
            lock (_gate)
            {
                return _running.Keys.ToList();
            }
        }
    }

    /// <summary>The VM of a sandbox, if it runs.</summary>
    public bool TryGetVm(string sandboxId, out VmState vm)
    {
        lock (_gate)
        {
            if (_running.TryGetValue(sandboxId, out var found))
            {
                vm = found;
                return true;
            }
        }

        vm = null!;
        return false;
    }

    /// <summary>The interfaces plugged into a sandbox's VM, in the order they were plugged.</summary>
    public IReadOnlyList<InterfaceRecord> InterfacesOf(string sandboxId)
    {
        lock (_gate)
        {
            return _interfaces.TryGetValue(sandboxId, out var list) ? list.ToList() : [];
        }
    }

    /// <inheritdoc />
    public Task<VmState> StartVmAsync(string sandboxId, SandboxConfig config, NetworkState? network, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        ArgumentNullException.ThrowIfNull(config);
        cancellationToken.ThrowIfCancellationRequested();
        config.HypervisorConfig.Validated();
        lock (_gate)
        {
            if (!_running.TryGetValue(sandboxId, out var vm))
            {
                vm = new VmState { HypervisorType = TypeName, Pid = 0, Uuid = Guid.NewGuid().ToString() };
                _files?.Write(sandboxId, vm);
                _running[sandboxId] = vm;
            }

            return Task.FromResult(vm);
        }
    }

    /// <inheritdoc />
    public Task StopVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            _files?.Delete(sandboxId);
            _running.Remove(sandboxId);
            _interfaceFiles?.Delete(sandboxId);
            _interfaces.Remove(sandboxId);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task PauseVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken) => SetPaused(sandboxId, true, cancellationToken);

    /// <inheritdoc />
    public Task ResumeVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken) => SetPaused(sandboxId, false, cancellationToken);

    /// <inheritdoc />
    public Task CheckAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<DeviceRecord> AddDeviceAsync(string sandboxId, DeviceRecord device, int blockIndex, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(device);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(device);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Recorded only for a VM the mock runs (matched by MAC, or by name when there is none); for any other sandbox it
    /// succeeds and records nothing, as Kata's mock returns nil for every hot-plug.
    /// </remarks>
    public Task<InterfaceRecord> AddInterfaceAsync(string sandboxId, VmState? vm, InterfaceRecord iface, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        ArgumentNullException.ThrowIfNull(iface);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (!_running.ContainsKey(sandboxId))
            {
                return Task.FromResult(iface);
            }

            var list = _interfaces.TryGetValue(sandboxId, out var found) ? found.ToList() : [];
            if (list.FirstOrDefault(i => SameInterface(i, iface)) is { } plugged)
            {
                return Task.FromResult(plugged);
            }

            list.Add(iface);
            _interfaceFiles?.Write(sandboxId, list);
            _interfaces[sandboxId] = list;
            return Task.FromResult(iface);
        }
    }

    /// <inheritdoc />
    public Task RemoveInterfaceAsync(string sandboxId, VmState? vm, InterfaceRecord iface, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        ArgumentNullException.ThrowIfNull(iface);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (_interfaces.TryGetValue(sandboxId, out var found) && found.Any(i => SameInterface(i, iface)))
            {
                var list = found.Where(i => !SameInterface(i, iface)).ToList();
                if (list.Count == 0)
                {
                    _interfaceFiles?.Delete(sandboxId);
                    _interfaces.Remove(sandboxId);
                }
                else
                {
                    _interfaceFiles?.Write(sandboxId, list);
                    _interfaces[sandboxId] = list;
                }
            }
        }

        return Task.CompletedTask;
    }

    private static bool SameInterface(InterfaceRecord a, InterfaceRecord b) =>
        a.HwAddr.Length > 0 || b.HwAddr.Length > 0
            ? string.Equals(a.HwAddr, b.HwAddr, StringComparison.OrdinalIgnoreCase)
            : string.Equals(a.Name, b.Name, StringComparison.Ordinal);

    private Task SetPaused(string sandboxId, bool paused, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        cancellationToken.ThrowIfCancellationRequested();

        // Kata's mock pauses and resumes whatever it is asked to; a VM it does not run is left alone.
        lock (_gate)
        {
            if (_running.TryGetValue(sandboxId, out var vm) && vm.Paused != paused)
            {
                var changed = vm with { Paused = paused };
                _files?.Write(sandboxId, changed);
                _running[sandboxId] = changed;
            }
        }

        return Task.CompletedTask;
    }
}
