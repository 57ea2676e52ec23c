using System.Diagnostics;
using System.Text;
using KataWorkflows.Activities.Hypervisors.Qemu;

namespace KataWorkflows.Qemu.Tests;

/// <summary>VMs of their own: a stop of a VM that is gone, and guests that never come up.</summary>
public sealed class QemuLifecycleTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_VM_killed_behind_the_driver_s_back_fails_Check_and_stops_cleanly_without_its_VmState()
    {
        var reason = await QemuHost.RequireGuestAsync(Ct);
        Assert.SkipWhen(reason is not null, reason ?? string.Empty);
        var root = QemuHost.NewRoot();
        try
        {
            await using var hypervisor = QemuHost.Hypervisor(root);
            var vm = await hypervisor.StartVmAsync("qb", QemuHost.Config("qb"), null, Ct);
            var run = hypervisor.RunDirectoryOf("qb");
            Assert.Equal([vm.Pid], QemuHost.QemuProcessesOf(run.Path));

            Process.GetProcessById(vm.Pid).Kill();
            await QemuHost.EventuallyAsync(() => Task.FromResult(QemuHost.QemuProcessesOf(run.Path).Count == 0), TimeSpan.FromSeconds(10), "QEMU dying", Ct);
            var check = await Assert.ThrowsAsync<QemuVmException>(() => hypervisor.CheckAsync("qb", vm, Ct));
            Assert.Null(check.Status);
            Assert.Contains("not running", check.Message, StringComparison.Ordinal);
            Assert.True(File.Exists(run.PidFile));

            await hypervisor.StopVmAsync("qb", null, Ct);
            await hypervisor.StopVmAsync("qb", vm, Ct);

            Assert.False(Directory.Exists(run.Path));
            Assert.False(Directory.Exists(hypervisor.ShareOf("qb")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_start_interrupted_after_the_launch_is_finished_by_the_next_start_with_the_same_QEMU()
    {
        var reason = await QemuHost.RequireGuestAsync(Ct);
        Assert.SkipWhen(reason is not null, reason ?? string.Empty);
        var root = QemuHost.NewRoot();
        try
        {
            await using var first = QemuHost.Hypervisor(root);
            var run = first.RunDirectoryOf("qc");

            // The host "dies" once QEMU is launched (its pid file is there), before or just after the vCPUs start.
            using var crash = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            var interrupted = first.StartVmAsync("qc", QemuHost.Config("qc"), null, crash.Token);
            await QemuHost.EventuallyAsync(() => Task.FromResult(File.Exists(run.PidFile) || interrupted.IsCompleted), TimeSpan.FromSeconds(60), "QEMU's pid file", Ct);
            await crash.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => interrupted);

            // QEMU's launcher may still be waiting for the daemon to be set up; then only the daemon is left.
            await QemuHost.EventuallyAsync(() => Task.FromResult(QemuHost.QemuProcessesOf(run.Path).Count == 1), TimeSpan.FromSeconds(30), "one QEMU", Ct);
            var launched = QemuHost.QemuProcessesOf(run.Path);

            await using var restarted = QemuHost.Hypervisor(root);
            var vm = await restarted.StartVmAsync("qc", QemuHost.Config("qc"), null, Ct);

            Assert.Equal(launched[0], vm.Pid);
            Assert.Equal([vm.Pid], QemuHost.QemuProcessesOf(run.Path));
            await using var agent = QemuHost.Agent(root);
            await agent.CheckAsync("qc", Ct);
            await restarted.StopVmAsync("qc", vm, Ct);
            Assert.Empty(QemuHost.QemuProcessesOf(run.Path));
        }
        finally
        {
            foreach (var pid in QemuHost.QemuProcessesOf(Path.Join(root, "vm")))
            {
                Process.GetProcessById(pid).Kill();
            }

            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_stale_pid_file_naming_another_live_process_is_not_killed_by_a_stop()
    {
        var root = QemuHost.NewRoot();
        using var bystander = Process.Start(new ProcessStartInfo("sleep", "300") { UseShellExecute = false })!;
        try
        {
            await using var hypervisor = QemuHost.Hypervisor(root);
            var run = hypervisor.RunDirectoryOf("qs");
            Directory.CreateDirectory(run.Path);
            await File.WriteAllTextAsync(run.PidFile, bystander.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), Ct);

            await hypervisor.StopVmAsync("qs", null, Ct);

            Assert.False(bystander.HasExited);
            Assert.False(Directory.Exists(run.Path));
            await Assert.ThrowsAsync<QemuVmException>(() => hypervisor.PauseVmAsync("qs", null, Ct));
        }
        finally
        {
            bystander.Kill();
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_kernel_that_is_not_a_kernel_fails_at_once_with_QEMU_s_message_and_leaves_nothing()
    {
        var reason = await QemuHost.RequireGuestAsync(Ct);
        Assert.SkipWhen(reason is not null, reason ?? string.Empty);
        var root = QemuHost.NewRoot();
        try
        {
            var kernel = Path.Join(root, "garbage-vmlinuz");
            await File.WriteAllBytesAsync(kernel, RandomBytes(2 * 1024 * 1024), Ct);
            await using var hypervisor = QemuHost.Hypervisor(root, QemuHost.Options(o => o.Accelerator = QemuAccelerator.Tcg));

            var ex = await Assert.ThrowsAsync<QemuBootException>(() => hypervisor.StartVmAsync("qk", QemuHost.Config("qk", kernel: kernel), null, Ct));

            Assert.True(ex.Message.Contains("exited with code 1: qemu: linux kernel too old to load a ram disk", StringComparison.Ordinal), ex.Message);
            AssertNothingLeft(hypervisor, "qk");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_guest_that_never_opens_its_agent_channel_is_stopped_at_the_boot_timeout_with_its_console_tail()
    {
        var reason = await QemuHost.RequireGuestAsync(Ct);
        Assert.SkipWhen(reason is not null, reason ?? string.Empty);
        var root = QemuHost.NewRoot();
        try
        {
            var initrd = await InitramfsAsync(root, "echo kwf-test: this init never starts an agent; exec /bin/busybox sleep 100000");
            var timeout = TimeSpan.FromSeconds(45);
            await using var hypervisor = QemuHost.Hypervisor(root, QemuHost.Options(o => { o.BootTimeout = timeout; o.Accelerator = QemuAccelerator.Tcg; }));
            var started = Stopwatch.StartNew();

            var ex = await Assert.ThrowsAsync<QemuBootException>(() => hypervisor.StartVmAsync("qg", QemuHost.Config("qg", initrd: initrd), null, Ct));

            Assert.True(ex.Message.Contains("within the boot timeout of 00:00:45", StringComparison.Ordinal), ex.Message);
            Assert.InRange(started.Elapsed, timeout, timeout + TimeSpan.FromSeconds(20));
            Assert.Contains("kwf-test: this init never starts an agent", ex.ConsoleTail, StringComparison.Ordinal);
            AssertNothingLeft(hypervisor, "qg");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task An_initramfs_whose_init_exits_fails_with_the_console_tail_and_leaves_nothing()
    {
        var reason = await QemuHost.RequireGuestAsync(Ct);
        Assert.SkipWhen(reason is not null, reason ?? string.Empty);
        var root = QemuHost.NewRoot();
        try
        {
            var initrd = await InitramfsAsync(root, "/bin/busybox echo kwf-test: this init exits now; exit 3");
            await using var hypervisor = QemuHost.Hypervisor(root, QemuHost.Options(o => { o.BootTimeout = TimeSpan.FromSeconds(90); o.Accelerator = QemuAccelerator.Tcg; }));

            var ex = await Assert.ThrowsAsync<QemuBootException>(() => hypervisor.StartVmAsync("qi", QemuHost.Config("qi", initrd: initrd), null, Ct));

            Assert.True(ex.Message.Contains("exited while the guest booted", StringComparison.Ordinal), ex.Message);
            Assert.Contains("SHUTDOWN", ex.Reason, StringComparison.Ordinal);
            Assert.Contains("kwf-test: this init exits now", ex.ConsoleTail, StringComparison.Ordinal);
            Assert.Contains("Attempted to kill init", ex.ConsoleTail, StringComparison.Ordinal);
            Assert.Contains(ex.ConsoleTail, ex.Message, StringComparison.Ordinal);
            AssertNothingLeft(hypervisor, "qi");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_guest_flooding_its_console_fills_no_more_than_the_console_cap()
    {
        var reason = await QemuHost.RequireGuestAsync(Ct);
        Assert.SkipWhen(reason is not null, reason ?? string.Empty);
        var root = QemuHost.NewRoot();
        try
        {
            const long cap = 64 * 1024;
            var initrd = await InitramfsAsync(root, "while :; do echo kwf-test-flood-0123456789abcdefghijklmnopqrstuvwxyz-0123456789abcdefghijklmnopqrstuvwxyz; done");
            await using var hypervisor = QemuHost.Hypervisor(root, QemuHost.Options(o => { o.BootTimeout = TimeSpan.FromSeconds(120); o.ConsoleLogMaxBytes = cap; o.Accelerator = QemuAccelerator.Tcg; }));
            var run = hypervisor.RunDirectoryOf("qf");
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            var start = hypervisor.StartVmAsync("qf", QemuHost.Config("qf", initrd: initrd), null, stop.Token);
            long largest = 0;

            // The log rotates at half the cap: console.log.1 holds exactly that, console.log less. The guest keeps
            // writing; the start (which waits for an agent channel that never opens) is then given up.
            await QemuHost.EventuallyAsync(
                () =>
                {
                    var total = ((string[])[run.ConsoleLog, run.ConsoleLogPrevious]).Sum(p => File.Exists(p) ? new FileInfo(p).Length : 0);
                    largest = Math.Max(largest, total);
                    return Task.FromResult(File.Exists(run.ConsoleLogPrevious) && new FileInfo(run.ConsoleLogPrevious).Length == cap / 2);
                },
                TimeSpan.FromSeconds(110),
                "the console log rotating",
                Ct);
            Assert.InRange(largest, 1, cap);
            Assert.Contains("kwf-test-flood", File.ReadAllText(run.ConsoleLogPrevious), StringComparison.Ordinal);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(run.ConsoleLogPrevious));

            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => start);
            await hypervisor.StopVmAsync("qf", null, Ct);
            AssertNothingLeft(hypervisor, "qf");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Auto_does_not_trust_dev_kvm_where_a_KVM_boot_does_not_reach_the_kernel()
    {
        var reason = await QemuHost.RequireGuestAsync(Ct);
        Assert.SkipWhen(reason is not null, reason ?? string.Empty);
        var root = QemuHost.NewRoot();
        try
        {
            var kernel = Path.Join(QemuHost.ImageDirectory, "vmlinuz");
            await using var auto = QemuHost.Hypervisor(root);
            var verdict = await auto.ResolveAcceleratorAsync(kernel, Ct);
            TestContext.Current.SendDiagnosticMessage($"accelerator {verdict.Accelerator}: {verdict.Reason}");
            Assert.SkipWhen(verdict.Accelerator == QemuAccelerator.Kvm, $"KVM boots guests on this host: {verdict.Reason}");
            Assert.SkipWhen(!File.Exists("/dev/kvm"), "no /dev/kvm: nothing to distrust");

            // /dev/kvm is there, yet the probe said TCG: forcing KVM shows why (QEMU refuses or the guest never boots).
            Assert.Contains("KVM probe boot", verdict.Reason, StringComparison.Ordinal);
            await using var forced = QemuHost.Hypervisor(root, QemuHost.Options(o => { o.Accelerator = QemuAccelerator.Kvm; o.BootTimeout = TimeSpan.FromSeconds(20); }));
            await Assert.ThrowsAsync<QemuBootException>(() => forced.StartVmAsync("qv", QemuHost.Config("qv"), null, Ct));
            AssertNothingLeft(forced, "qv");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static void AssertNothingLeft(QemuHypervisor hypervisor, string sandboxId)
    {
        var run = hypervisor.RunDirectoryOf(sandboxId);
        Assert.Empty(QemuHost.QemuProcessesOf(run.Path));
        Assert.False(Directory.Exists(run.Path), run.Path);
        Assert.False(Directory.Exists(hypervisor.ShareOf(sandboxId)));
    }

    /// <summary>An initramfs of busybox and an /init running <paramref name="script"/>.</summary>
    private static async Task<string> InitramfsAsync(string root, string script)
    {
        var initrd = Path.Join(root, "initrd.cpio");
        var busybox = await File.ReadAllBytesAsync(Path.Join(QemuHost.ImageDirectory, "rootfs", "bin", "busybox"), Ct);
        await File.WriteAllBytesAsync(initrd, Cpio.Newc(
            ("bin", null, 0x41ed),
            ("bin/busybox", busybox, 0x81ed),
            ("init", Encoding.ASCII.GetBytes("#!/bin/busybox sh\n" + script + "\n"), 0x81ed)), Ct);
        return initrd;
    }

    private static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        new Random(16).NextBytes(bytes);
        return bytes;
    }
}
