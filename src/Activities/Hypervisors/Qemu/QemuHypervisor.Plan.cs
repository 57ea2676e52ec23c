using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

public sealed partial class QemuHypervisor
{
    /// <summary>
    /// Checks everything a launch needs before anything is made: the config's numbers against the host's maxima, the
    /// kernel and initramfs (existing regular files), every path and name that goes on the command line.
    /// </summary>
    private LaunchPlan Plan(string sandboxId, SandboxConfig config, NetworkState? network)
    {
        var requested = config.HypervisorConfig;
        if (!string.IsNullOrEmpty(requested.ImagePath))
        {
            throw new InvalidSandboxArgumentException(
                "hypervisorConfig.imagePath",
                "hypervisorConfig.imagePath is not supported by the qemu driver: the guest boots from an initramfs (hypervisorConfig.initrdPath, or the guest image's initrd.gz)");
        }

        if (!string.IsNullOrEmpty(requested.HypervisorPath) && requested.HypervisorPath != _options.QemuPath)
        {
            throw new InvalidSandboxArgumentException(
                "hypervisorConfig.hypervisorPath",
                $"hypervisorConfig.hypervisorPath '{requested.HypervisorPath}' is not this host's QEMU ({QemuHypervisorOptions.SectionName}:QemuPath = {_options.QemuPath}); a sandbox cannot choose the binary the host runs");
        }

        var kernelField = string.IsNullOrEmpty(requested.KernelPath) ? $"{QemuHypervisorOptions.SectionName}:GuestImageDirectory" : "hypervisorConfig.kernelPath";
        var initrdField = string.IsNullOrEmpty(requested.InitrdPath) ? $"{QemuHypervisorOptions.SectionName}:GuestImageDirectory" : "hypervisorConfig.initrdPath";
        var kernel = string.IsNullOrEmpty(requested.KernelPath) ? Path.Join(_options.GuestImageDirectory, "vmlinuz") : requested.KernelPath;
        var initrd = string.IsNullOrEmpty(requested.InitrdPath) ? Path.Join(_options.GuestImageDirectory, "initrd.gz") : requested.InitrdPath;
        QemuArguments.SafePath(kernel, kernelField);
        QemuArguments.SafePath(initrd, initrdField);
        var hypervisor = (requested with { KernelPath = kernel, InitrdPath = initrd }).Validated();
        if (hypervisor.MemorySizeMiB > _options.MaxMemoryMiB)
        {
            throw new InvalidSandboxArgumentException(
                "hypervisorConfig.memorySizeMiB",
                $"hypervisorConfig.memorySizeMiB: {hypervisor.MemorySizeMiB} MiB is more than this host allows a sandbox ({QemuHypervisorOptions.SectionName}:MaxMemoryMiB = {_options.MaxMemoryMiB})");
        }

        if (hypervisor.MemorySizeMiB < 128)
        {
            throw new InvalidSandboxArgumentException("hypervisorConfig.memorySizeMiB", $"hypervisorConfig.memorySizeMiB: {hypervisor.MemorySizeMiB} MiB is too little for the guest (at least 128)");
        }

        if (hypervisor.NumVCpus > _options.MaxVCpus)
        {
            throw new InvalidSandboxArgumentException(
                "hypervisorConfig.numVCpus",
                $"hypervisorConfig.numVCpus: {hypervisor.NumVCpus} vCPUs is more than this host allows a sandbox ({QemuHypervisorOptions.SectionName}:MaxVCpus = {_options.MaxVCpus})");
        }

        var kernelParams = QemuArguments.KernelParams(hypervisor.KernelParams, "hypervisorConfig.kernelParams");
        var run = RunDirectoryOf(sandboxId);
        var share = ShareOf(sandboxId);
        QemuArguments.SafePath(run.Path, $"{Activities.Store.HostStoreOptions.SectionName}:RunRoot");
        QemuArguments.SafePath(share, $"{Agents.Kata.KataAgentOptions.SectionName}:SharedDirectory");
        QemuArguments.SocketPath(run.ConsoleSocket, "sandboxId");

        var nics = new List<ColdNic>();
        var endpoints = network?.Endpoints ?? [];
        for (var i = 0; i < endpoints.Count; i++)
        {
            if (endpoints[i].TapDevice.Length == 0)
            {
                continue;
            }

            var tap = QemuArguments.InterfaceName(endpoints[i].TapDevice, $"network.endpoints[{i}].tapDevice");
            var mac = QemuArguments.MacAddress(endpoints[i].HwAddr, $"network.endpoints[{i}].hwAddr");
            if (nics.Any(n => n.Mac == mac))
            {
                throw new InvalidSandboxArgumentException($"network.endpoints[{i}].hwAddr", $"network.endpoints[{i}].hwAddr {mac} is used by another endpoint");
            }

            nics.Add(new ColdNic(tap, mac));
        }

        string? netns = null;
        if (!string.IsNullOrEmpty(network?.NetNsPath))
        {
            netns = QemuArguments.SafePath(network.NetNsPath, "network.netNsPath");
            if (!File.Exists(netns))
            {
                throw new InvalidSandboxArgumentException("network.netNsPath", $"network.netNsPath does not exist: '{netns}'");
            }
        }

        // Checked last: the files must still be there when QEMU opens them, so as late as possible.
        QemuArguments.ExistingFile(kernel, kernelField);
        QemuArguments.ExistingFile(initrd, initrdField);
        return new LaunchPlan(sandboxId, run, share, kernel, initrd, kernelParams, hypervisor.MemorySizeMiB, hypervisor.NumVCpus, nics, netns);
    }

    /// <summary>The program and arguments that start the VM: QEMU, or <c>nsenter --net=&lt;netns&gt; -- qemu</c>.</summary>
    private (string Program, IReadOnlyList<string> Arguments) CommandLine(LaunchPlan plan, string uuid, bool kvm)
    {
        var run = plan.Run;
        List<string> qemu =
        [
            "-name", $"sandbox-{plan.SandboxId}",
            "-uuid", uuid,
            "-machine", kvm ? "q35,accel=kvm" : "q35,accel=tcg",
        ];
        if (kvm)
        {
            qemu.AddRange(["-cpu", "host"]);
        }

        qemu.AddRange(
        [
            "-m", $"{QemuArguments.Number(plan.MemoryMiB)}M",
            "-smp", QemuArguments.Number(plan.VCpus),
            "-qmp", $"unix:{run.QmpSocket},server=on,wait=off",
            "-pidfile", run.PidFile,
            "-daemonize",
            "-S",
            "-display", "none",
            "-vga", "none",
            "-nodefaults",
            "-no-user-config",
            "-no-reboot",
            // seccomp: elevateprivileges=deny and spawn=deny make QEMU 7.2 fail to daemonize (exit 1, SIGSYS).
            "-sandbox", "on,obsolete=deny,resourcecontrol=deny",
            "-rtc", "base=utc,driftfix=slew,clock=host",
        ]);
        if (kvm)
        {
            qemu.AddRange(["-global", "kvm-pit.lost_tick_policy=discard"]);
        }

        var append = "console=ttyS0 quiet panic=-1 reboot=k" + (plan.KernelParams.Length > 0 ? " " + plan.KernelParams : string.Empty);
        qemu.AddRange(
        [
            "-chardev", $"socket,id=charconsole0,path={run.ConsoleSocket},server=on,wait=off",
            "-serial", "chardev:charconsole0",
            "-kernel", plan.Kernel,
            "-initrd", plan.Initrd,
            "-append", append,
            "-device", "virtio-serial-pci,id=serial0",
            "-chardev", $"socket,id=charch0,path={run.AgentSocket},server=on,wait=off",
            "-device", $"virtserialport,bus=serial0.0,chardev=charch0,id={AgentPortId},name={AgentPortName}",
            "-fsdev", $"local,id=extra-9p-{Agents.Kata.KataGuestLayout.ShareMountTag},path={plan.Share},security_model=none,multidevs=remap",
            "-device", $"virtio-9p-pci,fsdev=extra-9p-{Agents.Kata.KataGuestLayout.ShareMountTag},mount_tag={Agents.Kata.KataGuestLayout.ShareMountTag}",
        ]);

        // One root port per NIC plugged at launch, plus the free ones for hot-plug: q35's root bus cannot hot-plug.
        var ports = plan.Nics.Count + _options.HotplugSlots;
        for (var i = 0; i < ports; i++)
        {
            qemu.AddRange(["-device", $"pcie-root-port,id={RootPort(i)},bus=pcie.0,chassis={QemuArguments.Number(i + 1)}"]);
        }

        for (var i = 0; i < plan.Nics.Count; i++)
        {
            var nic = plan.Nics[i];
            var netdev = QemuArguments.IdFromMac("net", nic.Mac);
            qemu.AddRange(
            [
                "-netdev", $"tap,id={netdev},ifname={nic.Tap},script=no,downscript=no",
                "-device", $"virtio-net-pci,netdev={netdev},id={QemuArguments.IdFromMac("nic", nic.Mac)},mac={nic.Mac},bus={RootPort(i)}",
            ]);
        }

        if (plan.NetNsPath is null)
        {
            return (_options.QemuPath, qemu);
        }

        return (_options.NsenterPath, [$"--net={plan.NetNsPath}", "--", _options.QemuPath, .. qemu]);
    }

    private static string RootPort(int index) => "rp" + QemuArguments.Number(index);

    private sealed record ColdNic(string Tap, string Mac);

    private sealed record LaunchPlan(
        string SandboxId,
        QemuRunDirectory Run,
        string Share,
        string Kernel,
        string Initrd,
        string KernelParams,
        int MemoryMiB,
        int VCpus,
        IReadOnlyList<ColdNic> Nics,
        string? NetNsPath);
}
