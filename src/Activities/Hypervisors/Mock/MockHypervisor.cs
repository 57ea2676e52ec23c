using KataWorkflows.Activities.Drivers;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Hypervisors.Mock;

/// <summary>
/// Kata's <c>mockHypervisor</c> (HypervisorType <c>mock</c>): starting validates the hypervisor configuration as
/// Kata's <c>createSandbox</c> does; start, stop, pause, resume, check and device attach then succeed, with pid 0.
/// It keeps a thread-safe registry of the VMs it "runs", so tests can assert that nothing was left behind: in memory by
/// default, or, with <see cref="MockDriverOptions.StateDirectory"/>, also one file per VM under
/// <c>&lt;dir&gt;/mock-hypervisor</c>, which a new process over the same directory reads back (a real VM outlives the
/// host process that started it).
/// </summary>
public sealed class MockHypervisor : IHypervisor
{
    /// <summary>The hypervisor type name.</summary>
    public const string TypeName = "mock";

    /// <summary>The sub-directory of <see cref="MockDriverOptions.StateDirectory"/> that holds the VMs.</summary>
    public const string StateSubdirectory = "mock-hypervisor";

    private readonly Lock _gate = new();
    private readonly Dictionary<string, VmState> _running = new(StringComparer.Ordinal);
    private readonly DriverStateFiles<VmState>? _files;

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
