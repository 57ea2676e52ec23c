using System.Collections.Concurrent;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Hypervisors.Mock;

/// <summary>
/// Kata's <c>mockHypervisor</c> (HypervisorType <c>mock</c>): starting validates the hypervisor configuration as
/// Kata's <c>createSandbox</c> does; start, stop, pause, resume, check and device attach then succeed, with pid 0.
/// It keeps a thread-safe registry of the VMs it "runs", so tests can assert that nothing was left behind.
/// </summary>
public sealed class MockHypervisor : IHypervisor
{
    /// <summary>The hypervisor type name.</summary>
    public const string TypeName = "mock";

    private readonly ConcurrentDictionary<string, VmState> _running = new(StringComparer.Ordinal);

    /// <summary>The sandboxes whose VM is running (or paused), in no particular order.</summary>
    public IReadOnlyCollection<string> RunningVms => _running.Keys.ToList();

    /// <summary>The VM of a sandbox, if it runs.</summary>
    public bool TryGetVm(string sandboxId, out VmState vm)
    {
        if (_running.TryGetValue(sandboxId, out var found))
        {
            vm = found;
            return true;
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
        var vm = _running.GetOrAdd(sandboxId, _ => new VmState { HypervisorType = TypeName, Pid = 0, Uuid = Guid.NewGuid().ToString() });
        return Task.FromResult(vm);
    }

    /// <inheritdoc />
    public Task StopVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        cancellationToken.ThrowIfCancellationRequested();
        _running.TryRemove(sandboxId, out _);
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
        while (_running.TryGetValue(sandboxId, out var vm) && vm.Paused != paused)
        {
            if (_running.TryUpdate(sandboxId, vm with { Paused = paused }, vm))
            {
                break;
            }
        }

        return Task.CompletedTask;
    }
}
