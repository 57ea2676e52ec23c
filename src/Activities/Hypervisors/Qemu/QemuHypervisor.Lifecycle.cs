using System.Net.Sockets;
using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

public sealed partial class QemuHypervisor
{
    private const int SigKill = 9;

    /// <inheritdoc />
    /// <remarks>
    /// QMP <c>quit</c>, then SIGKILL when QEMU has not exited within <see cref="QemuHypervisorOptions.StopTimeout"/>;
    /// then the run directory and the (unmounted) shared directory are removed. The QEMU is found by the pid file and
    /// the command line, so a stop works without <paramref name="vm"/> and after a host restart.
    /// </remarks>
    public async Task StopVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        using var held = await _locks.AcquireAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        await StopLockedAsync(sandboxId, RunDirectoryOf(sandboxId), vm?.Pid ?? 0, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task PauseVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        using var held = await _locks.AcquireAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        var qmp = await ConnectVmAsync(sandboxId, vm, cancellationToken).ConfigureAwait(false);
        await using var qmpScope = qmp.ConfigureAwait(false);
        await qmp.StopAsync(cancellationToken).ConfigureAwait(false);
        var status = await qmp.QueryStatusAsync(cancellationToken).ConfigureAwait(false);
        if (status.Status != "paused")
        {
            throw new QemuVmException(sandboxId, status.Status, $"The VM of sandbox '{sandboxId}' is '{status.Status}' after QMP stop, not paused.");
        }
    }

    /// <inheritdoc />
    public async Task ResumeVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        using var held = await _locks.AcquireAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        var qmp = await ConnectVmAsync(sandboxId, vm, cancellationToken).ConfigureAwait(false);
        await using var qmpScope = qmp.ConfigureAwait(false);
        await qmp.ContAsync(cancellationToken).ConfigureAwait(false);
        var status = await qmp.QueryStatusAsync(cancellationToken).ConfigureAwait(false);
        if (status.Status != "running")
        {
            throw new QemuVmException(sandboxId, status.Status, $"The VM of sandbox '{sandboxId}' is '{status.Status}' after QMP cont, not running.");
        }
    }

    /// <inheritdoc />
    /// <remarks>Healthy is <c>running</c> or <c>paused</c>; anything else (<c>shutdown</c>, <c>guest-panicked</c>, <c>internal-error</c>...) throws, naming it.</remarks>
    public async Task CheckAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        using var held = await _locks.AcquireAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        var run = RunDirectoryOf(sandboxId);
        var qmp = await ConnectVmAsync(sandboxId, vm, cancellationToken).ConfigureAwait(false);
        await using var qmpScope = qmp.ConfigureAwait(false);
        var status = await qmp.QueryStatusAsync(cancellationToken).ConfigureAwait(false);
        if (status.Status is not ("running" or "paused"))
        {
            throw new QemuVmException(sandboxId, status.Status, $"The VM of sandbox '{sandboxId}' is not healthy: QEMU reports status '{status.Status}'.");
        }

        // After a host restart nobody reads the console until a call touches the VM.
        await EnsureConsoleAsync(sandboxId, run, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>QMP to the sandbox's live QEMU.</summary>
    /// <exception cref="QemuVmException">No QEMU of the sandbox runs, or its QMP does not answer.</exception>
    private async Task<QmpClient> ConnectVmAsync(string sandboxId, VmState? vm, CancellationToken cancellationToken)
    {
        var run = RunDirectoryOf(sandboxId);
        if (QemuProcesses.Find(run, vm?.Pid ?? 0) is null)
        {
            throw new QemuVmException(sandboxId, null, $"The VM of sandbox '{sandboxId}' is not running: no QEMU process of {run.PidFile}.");
        }

        try
        {
            return await ConnectQmpAsync(run, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is QmpProtocolException or TimeoutException or SocketException or IOException)
        {
            throw new QemuVmException(sandboxId, null, $"The VM of sandbox '{sandboxId}' does not answer QMP on {run.QmpSocket}: {ex.Message}", ex);
        }
    }

    private async Task StopLockedAsync(string sandboxId, QemuRunDirectory run, int knownPid, CancellationToken cancellationToken)
    {
        foreach (var found in QemuProcesses.FindAll(run, knownPid))
        {
            try
            {
                using var quitLimit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                quitLimit.CancelAfter(_options.QmpTimeout);
                var qmp = await ConnectQmpAsync(run, quitLimit.Token).ConfigureAwait(false);
                await using var qmpScope = qmp.ConfigureAwait(false);
                await qmp.QuitAsync(quitLimit.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is QmpProtocolException or QmpException or TimeoutException or SocketException or IOException
                || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                QemuLog.QuitFailed(_logger, sandboxId, ex);
            }

            if (!await ExitedAsync(found.Pid, _options.StopTimeout, cancellationToken).ConfigureAwait(false))
            {
                QemuLog.Killing(_logger, sandboxId, found.Pid, _options.StopTimeout);
                UnixFiles.Signal(found.Pid, SigKill);
                if (!await ExitedAsync(found.Pid, _options.StopTimeout, cancellationToken).ConfigureAwait(false))
                {
                    throw new QemuVmException(sandboxId, null, $"QEMU pid {found.Pid} of sandbox '{sandboxId}' did not die of SIGKILL within {_options.StopTimeout}.");
                }
            }
        }

        if (TakeConsole(sandboxId) is { } console)
        {
            await console.DisposeAsync().ConfigureAwait(false);
        }

        if (Directory.Exists(run.Path))
        {
            Directory.Delete(run.Path, recursive: true);
        }

        var share = ShareOf(sandboxId);
        if (Directory.Exists(share))
        {
            // Never delete through a mount: a container's rootfs bind-mounted there is the host's own directory.
            if (BindMounts.MountsUnder(share).Count > 0)
            {
                QemuLog.ShareStillMounted(_logger, sandboxId, share);
            }
            else
            {
                Directory.Delete(share, recursive: true);
            }
        }

        QemuLog.Stopped(_logger, sandboxId);
    }

    /// <summary>SIGKILL to every QEMU of the run directory, without waiting.</summary>
    private static void KillAll(QemuRunDirectory run, int knownPid)
    {
        foreach (var found in QemuProcesses.FindAll(run, knownPid))
        {
            UnixFiles.Signal(found.Pid, SigKill);
        }
    }

    private async Task<bool> ExitedAsync(int pid, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // QEMU daemonized, so it is not this process's child: its exit is seen in /proc.
        var deadline = _time.GetUtcNow() + timeout;
        while (QemuProcesses.IsAlive(pid))
        {
            if (_time.GetUtcNow() >= deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), _time, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }
}
