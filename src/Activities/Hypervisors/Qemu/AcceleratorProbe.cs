using System.Diagnostics;
using System.Text;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>
/// Decides whether KVM really boots a guest here (<see cref="QemuAccelerator.Auto"/>). <c>/dev/kvm</c> is not trusted
/// alone: on a nested host that offers it (this project's machines, see <c>reference/guest.md</c>) QEMU reports KVM
/// present and enabled, yet <c>-cpu host</c> makes QEMU abort at start ("failed to set MSR"), and with another CPU
/// model SeaBIOS prints and the guest resets in a loop with no kernel output. So the probe boots the guest kernel
/// itself under KVM with the driver's own machine and CPU options, no initramfs and the serial console on stdout, and
/// counts KVM usable only when the kernel prints its banner (<c>Linux version</c>) within the probe timeout. QEMU
/// exiting first, or silence until the timeout (the reset loop), means TCG. The probe QEMU is killed either way.
/// </summary>
internal static class AcceleratorProbe
{
    /// <summary>What the kernel prints first once it runs.</summary>
    public const string KernelBanner = "Linux version";

    /// <summary>Probes KVM with a kernel.</summary>
    public static async Task<AcceleratorVerdict> ProbeAsync(string qemuPath, string kernelPath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!File.Exists("/dev/kvm"))
        {
            return new AcceleratorVerdict(QemuAccelerator.Tcg, "no /dev/kvm on this host");
        }

        try
        {
            using var kvm = new FileStream("/dev/kvm", FileMode.Open, FileAccess.ReadWrite);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new AcceleratorVerdict(QemuAccelerator.Tcg, $"/dev/kvm cannot be opened: {ex.Message}");
        }

        var info = new ProcessStartInfo(qemuPath)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in (string[])[
            "-machine", "q35,accel=kvm", "-cpu", "host", "-m", "256", "-smp", "1",
            "-display", "none", "-vga", "none", "-nodefaults", "-no-user-config", "-no-reboot",
            "-serial", "stdio", "-kernel", kernelPath, "-append", "console=ttyS0 earlyprintk=ttyS0 panic=-1",
        ])
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{qemuPath} did not start");
        var output = new StringBuilder();
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var started = Stopwatch.StartNew();
        try
        {
            var buffer = new char[4096];
            while (true)
            {
                var read = await process.StandardOutput.ReadAsync(buffer, limit.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
                    var error = (await stderr.ConfigureAwait(false)).Trim();
                    return new AcceleratorVerdict(
                        QemuAccelerator.Tcg,
                        $"a KVM probe boot of {kernelPath} ended with exit code {process.ExitCode} before the kernel printed anything: {Shorten(error)}");
                }

                output.Append(buffer, 0, read);
                if (output.ToString().Contains(KernelBanner, StringComparison.Ordinal))
                {
                    return new AcceleratorVerdict(QemuAccelerator.Kvm, $"a KVM probe boot of {kernelPath} reached the kernel in {started.Elapsed.TotalSeconds:0.00} s");
                }

                if (output.Length > 64 * 1024)
                {
                    output.Remove(0, output.Length - 1024);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new AcceleratorVerdict(
                QemuAccelerator.Tcg,
                $"a KVM probe boot of {kernelPath} printed no kernel banner within {timeout} (the firmware ran, then the guest reset or hung): KVM does not boot guests here");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static string Shorten(string text)
    {
        var line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "no message";
        return line.Length > 300 ? line[..300] : line;
    }
}
