using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

public sealed partial class QemuHypervisor
{
    private const int LaunchOutputLimit = 16 * 1024;

    /// <summary>
    /// Returns the VM a previous start left (this process or one before it): a live QEMU whose command line names this
    /// run directory's pid file. One still in <c>prelaunch</c> (the host died between launch and <c>cont</c>) is booted
    /// now; one that runs or is paused is returned as it is. A QEMU that does not answer QMP or has shut down is stopped
    /// so a new one can start.
    /// </summary>
    private async Task<VmState?> TryAdoptAsync(LaunchPlan plan, Stopwatch started, CancellationToken cancellationToken)
    {
        if (QemuProcesses.Find(plan.Run) is not { } found)
        {
            return null;
        }

        string status;
        try
        {
            var qmp = await ConnectQmpAsync(plan.Run, cancellationToken).ConfigureAwait(false);
            await using var qmpScope = qmp.ConfigureAwait(false);
            status = (await qmp.QueryStatusAsync(cancellationToken).ConfigureAwait(false)).Status;
        }
        catch (Exception ex) when (ex is QmpProtocolException or QmpException or TimeoutException or SocketException or IOException)
        {
            QemuLog.StaleVm(_logger, plan.SandboxId, found.Pid, $"QMP does not answer: {ex.Message}");
            await StopLockedAsync(plan.SandboxId, plan.Run, found.Pid, cancellationToken).ConfigureAwait(false);
            return null;
        }

        if (status is not ("prelaunch" or "running" or "paused"))
        {
            QemuLog.StaleVm(_logger, plan.SandboxId, found.Pid, $"status {status}");
            await StopLockedAsync(plan.SandboxId, plan.Run, found.Pid, cancellationToken).ConfigureAwait(false);
            return null;
        }

        QemuLog.Adopted(_logger, plan.SandboxId, found.Pid, status);
        MakePrivate(plan.Run);
        if (status == "prelaunch")
        {
            await BootAsync(plan, found.Pid, started, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await EnsureConsoleAsync(plan.SandboxId, plan.Run, cancellationToken).ConfigureAwait(false);
        }

        return new VmState { HypervisorType = TypeName, Pid = found.Pid, Uuid = found.Uuid, RunDirectory = plan.Run.Path, Paused = status == "paused" };
    }

    /// <summary>Runs the launcher (QEMU daemonizes once its sockets listen) and returns the QEMU pid; on failure nothing is left.</summary>
    private async Task<int> LaunchAsync(LaunchPlan plan, string program, IReadOnlyList<string> arguments, Stopwatch started, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        string failure;
        try
        {
            using var launcher = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
            launcher.StandardInput.Close();
            var stderr = ReadBoundedAsync(launcher.StandardError);
            var stdout = ReadBoundedAsync(launcher.StandardOutput);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(Remaining(started));
            try
            {
                await launcher.WaitForExitAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                launcher.Kill(entireProcessTree: true);
                failure = $"{program} did not daemonize within {_options.BootTimeout}";
                goto Failed;
            }

            // The daemon gives up the pipes once it is set up; a stuck pipe must not hold the start.
            var output = await JoinOutputAsync(stderr, stdout).ConfigureAwait(false);
            if (launcher.ExitCode == 0)
            {
                var pid = QemuProcesses.Find(plan.Run)?.Pid ?? 0;
                if (pid > 0)
                {
                    MakePrivate(plan.Run);
                    return pid;
                }

                failure = $"{program} exited with 0 but no QEMU of {plan.Run.PidFile} is running{(output.Length > 0 ? ": " + output : string.Empty)}";
            }
            else
            {
                failure = $"{program} exited with code {launcher.ExitCode}: {(output.Length > 0 ? output : "no message")}";
            }
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            failure = $"{program} could not be started: {ex.Message}";
        }

    Failed:
        QemuLog.BootFailed(_logger, plan.SandboxId, failure);
        await StopLockedAsync(plan.SandboxId, plan.Run, 0, CancellationToken.None).ConfigureAwait(false);
        throw new QemuBootException(plan.SandboxId, failure, string.Empty);
    }

    /// <summary>
    /// Takes a QEMU in <c>prelaunch</c> to a guest that opened its agent channel: connects QMP and the console, runs the
    /// vCPUs, and waits for the <c>VSERPORT_CHANGE</c> event of the agent's port within what is left of the boot
    /// timeout. A guest that does not get there, or a QEMU that exits first, is stopped and reported with its console.
    /// </summary>
    private async Task BootAsync(LaunchPlan plan, int pid, Stopwatch started, CancellationToken cancellationToken)
    {
        string failure;
        Exception? cause;
        QmpClient? qmp = null;
        try
        {
            qmp = await ConnectQmpAsync(plan.Run, cancellationToken).ConfigureAwait(false);
            await using var qmpScope = qmp.ConfigureAwait(false);
            await EnsureConsoleAsync(plan.SandboxId, plan.Run, cancellationToken).ConfigureAwait(false);
            using var opened = qmp.WatchEvent("VSERPORT_CHANGE", e => e.DataString("id") == AgentPortId && e.Data.TryGetProperty("open", out var open) && open.ValueKind == System.Text.Json.JsonValueKind.True);
            await qmp.ContAsync(cancellationToken).ConfigureAwait(false);

            await opened.WaitAsync(Remaining(started), "the guest opening its agent channel", cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (TimeoutException ex)
        {
            failure = $"the guest did not open its agent channel ({AgentPortName}) within the boot timeout of {_options.BootTimeout}";
            cause = ex;
        }
        catch (QmpProtocolException ex)
        {
            // The last events say how it ended (SHUTDOWN with reason guest-reset, guest-panic, host-signal...).
            var events = qmp?.RecentEvents.Where(e => e.Name is not ("RESUME" or "STOP")).Select(e => e.ToString()).ToList() ?? [];
            failure = $"QEMU (pid {pid}) exited while the guest booted ({ex.Message}{(events.Count > 0 ? "; last QMP events: " + string.Join(", ", events) : string.Empty)})";
            cause = ex;
        }
        catch (Exception ex) when (ex is QmpException or SocketException or IOException)
        {
            failure = $"QEMU (pid {pid}) failed while the guest booted: {ex.Message}";
            cause = ex;
        }

        QemuLog.BootFailed(_logger, plan.SandboxId, failure);
        if (TakeConsole(plan.SandboxId) is { } console)
        {
            // Kill first, so the console ends and everything the guest printed is in the log.
            KillAll(plan.Run, pid);
            await console.DrainAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            await console.DisposeAsync().ConfigureAwait(false);
        }

        var tail = QemuConsoleLog.Tail(plan.Run);
        await StopLockedAsync(plan.SandboxId, plan.Run, pid, CancellationToken.None).ConfigureAwait(false);
        throw new QemuBootException(plan.SandboxId, failure, tail, cause);
    }

    private async Task<QmpClient> ConnectQmpAsync(QemuRunDirectory run, CancellationToken cancellationToken) =>
        await QmpClient.ConnectAsync(run.QmpSocket, _options.QmpTimeout, QmpClient.DefaultMaxLineBytes, cancellationToken).ConfigureAwait(false);

    private async Task EnsureConsoleAsync(string sandboxId, QemuRunDirectory run, CancellationToken cancellationToken)
    {
        lock (_consoleGate)
        {
            if (_consoles.TryGetValue(sandboxId, out var existing) && !existing.Completion.IsCompleted)
            {
                return;
            }
        }

        QemuConsoleLog console;
        try
        {
            console = await QemuConsoleLog.StartAsync(run, _options.ConsoleLogMaxBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // No console socket (QEMU gone): nothing to copy.
            return;
        }

        QemuConsoleLog? replaced;
        lock (_consoleGate)
        {
            _consoles.Remove(sandboxId, out replaced);
            _consoles[sandboxId] = console;
        }

        if (replaced is not null)
        {
            await replaced.DisposeAsync().ConfigureAwait(false);
        }
    }

    private QemuConsoleLog? TakeConsole(string sandboxId)
    {
        lock (_consoleGate)
        {
            return _consoles.Remove(sandboxId, out var console) ? console : null;
        }
    }

    private TimeSpan Remaining(Stopwatch started)
    {
        var left = _options.BootTimeout - started.Elapsed;
        return left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1);
    }

    private static async Task<string> ReadBoundedAsync(StreamReader reader)
    {
        var text = new StringBuilder();
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            if (text.Length < LaunchOutputLimit)
            {
                text.Append(buffer, 0, Math.Min(read, LaunchOutputLimit - text.Length));
            }
        }

        return text.ToString();
    }

    private static async Task<string> JoinOutputAsync(Task<string> stderr, Task<string> stdout)
    {
        var parts = new List<string>();
        foreach (var part in (Task<string>[])[stderr, stdout])
        {
            try
            {
                parts.Add((await part.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false)).Trim());
            }
            catch (TimeoutException)
            {
                // The daemon still holds the pipe; what it wrote is not needed.
            }
        }

        var text = string.Join('\n', parts.Where(p => p.Length > 0));
        return new string(text.Select(c => char.IsControl(c) && c != '\n' ? '?' : c).ToArray());
    }
}
