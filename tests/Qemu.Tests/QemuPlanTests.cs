using KataWorkflows.Activities.Hypervisors.Qemu;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Qemu.Tests;

/// <summary>
/// What a sandbox config cannot do: add a QEMU option, ask for more than the host allows, boot a kernel that is not
/// there. Every refusal names the field and comes before anything is made. No QEMU is needed.
/// </summary>
public sealed class QemuPlanTests : IDisposable
{
    private readonly string _root = QemuHost.NewRoot();
    private readonly string _kernel;
    private readonly string _initrd;

    public QemuPlanTests()
    {
        _kernel = Path.Join(_root, "vmlinuz");
        _initrd = Path.Join(_root, "initrd.gz");
        File.WriteAllText(_kernel, "k");
        File.WriteAllText(_initrd, "i");
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string, string> Refused() => new()
    {
        { "kernel-comma", "hypervisorConfig.kernelPath", "comma" },
        { "initrd-comma", "hypervisorConfig.initrdPath", "comma" },
        { "kernel-relative", "hypervisorConfig.kernelPath", "absolute" },
        { "kernel-missing", "hypervisorConfig.kernelPath", "does not exist" },
        { "kernel-directory", "hypervisorConfig.kernelPath", "directory" },
        { "kernel-device", "hypervisorConfig.kernelPath", "not a regular file" },
        { "memory-above-max", "hypervisorConfig.memorySizeMiB", "Qemu:MaxMemoryMiB = 1024" },
        { "memory-too-small", "hypervisorConfig.memorySizeMiB", "at least 128" },
        { "vcpus-above-max", "hypervisorConfig.numVCpus", "Qemu:MaxVCpus = 2" },
        { "image", "hypervisorConfig.imagePath", "initramfs" },
        { "hypervisor-path", "hypervisorConfig.hypervisorPath", "cannot choose" },
        { "kernel-params-newline", "hypervisorConfig.kernelParams", "printable" },
        { "tap-comma", "network.endpoints[0].tapDevice", "interface name" },
        { "tap-too-long", "network.endpoints[0].tapDevice", "interface name" },
        { "mac-missing", "network.endpoints[0].hwAddr", "MAC address" },
        { "mac-injection", "network.endpoints[0].hwAddr", "MAC address" },
        { "netns-comma", "network.netNsPath", "comma" },
        { "netns-missing", "network.netNsPath", "does not exist" },
        { "id-too-long", "sandboxId", "107" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_config_that_would_inject_an_option_or_exceed_the_host_is_refused_by_field_before_anything_starts(string @case, string field, string message)
    {
        await using var hypervisor = QemuHost.Hypervisor(_root, QemuHost.Options(o => { o.MaxMemoryMiB = 1024; o.MaxVCpus = 2; }));
        var id = @case == "id-too-long" ? new string('s', 90) : "qp";
        var config = QemuHost.Config(id, kernel: _kernel, initrd: _initrd);
        var hc = config.HypervisorConfig;
        NetworkState? network = null;
        var endpoint = new InterfaceRecord { Name = "eth0", HwAddr = "02:00:00:00:00:01", TapDevice = "tap0" };
        config = @case switch
        {
            "kernel-comma" => config with { HypervisorConfig = hc with { KernelPath = Comma(_kernel) } },
            "initrd-comma" => config with { HypervisorConfig = hc with { InitrdPath = Comma(_initrd) } },
            "kernel-relative" => config with { HypervisorConfig = hc with { KernelPath = "vmlinuz" } },
            "kernel-missing" => config with { HypervisorConfig = hc with { KernelPath = Path.Join(_root, "absent") } },
            "kernel-directory" => config with { HypervisorConfig = hc with { KernelPath = _root } },
            "kernel-device" => config with { HypervisorConfig = hc with { KernelPath = "/dev/null" } },
            "memory-above-max" => config with { HypervisorConfig = hc with { MemorySizeMiB = 1025 } },
            "memory-too-small" => config with { HypervisorConfig = hc with { MemorySizeMiB = 64 } },
            "vcpus-above-max" => config with { HypervisorConfig = hc with { NumVCpus = 3 } },
            "image" => config with { HypervisorConfig = hc with { InitrdPath = null, ImagePath = _initrd } },
            "hypervisor-path" => config with { HypervisorConfig = hc with { HypervisorPath = "/bin/sh" } },
            "kernel-params-newline" => config with { HypervisorConfig = hc with { KernelParams = "quiet\n-device foo" } },
            _ => config,
        };
        network = @case switch
        {
            "tap-comma" => new NetworkState { Endpoints = [endpoint with { TapDevice = "tap0,script=/tmp/x" }] },
            "tap-too-long" => new NetworkState { Endpoints = [endpoint with { TapDevice = "tap0123456789abcdef" }] },
            "mac-missing" => new NetworkState { Endpoints = [endpoint with { HwAddr = string.Empty }] },
            "mac-injection" => new NetworkState { Endpoints = [endpoint with { HwAddr = "02:00:00:00:00:01,romfile=/etc/shadow" }] },
            "netns-comma" => new NetworkState { NetNsPath = "/run/netns/a,b" },
            "netns-missing" => new NetworkState { NetNsPath = "/run/netns/kwfq-absent" },
            _ => network,
        };

        var ex = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() => hypervisor.StartVmAsync(id, config, network, Ct));

        Assert.Equal(field, ex.Field);
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Join(_root, "vm")), "nothing is made before the config is checked");
        Assert.False(Directory.Exists(hypervisor.ShareOf(id)));
    }

    [Fact]
    public async Task Without_kernel_and_initrd_in_the_config_the_guest_image_s_are_used_and_their_absence_names_the_setting()
    {
        var image = Path.Join(_root, "no-image-here");
        await using var hypervisor = QemuHost.Hypervisor(_root, QemuHost.Options(o => o.GuestImageDirectory = image));

        var ex = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() => hypervisor.StartVmAsync("qp", QemuHost.Config("qp"), null, Ct));

        Assert.Equal("Qemu:GuestImageDirectory", ex.Field);
        Assert.Contains(Path.Join(image, "vmlinuz"), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_options_validator_names_each_bad_key()
    {
        var result = new QemuHypervisorOptionsValidator().Validate(null, new QemuHypervisorOptions
        {
            QemuPath = "bin/qemu",
            GuestImageDirectory = "relative",
            MaxMemoryMiB = 0,
            MaxVCpus = 0,
            BootTimeout = TimeSpan.Zero,
            ConsoleLogMaxBytes = 10,
            HotplugSlots = 100,
            Accelerator = (QemuAccelerator)7,
        });

        Assert.True(result.Failed);
        foreach (var key in (string[])["Qemu:QemuPath", "Qemu:GuestImageDirectory", "Qemu:MaxMemoryMiB", "Qemu:MaxVCpus", "Qemu:BootTimeout", "Qemu:ConsoleLogMaxBytes", "Qemu:HotplugSlots", "Qemu:Accelerator"])
        {
            Assert.Contains(result.Failures!, f => f.StartsWith(key + " ", StringComparison.Ordinal));
        }

        Assert.True(new QemuHypervisorOptionsValidator().Validate(null, new QemuHypervisorOptions()).Succeeded);
    }

    [Fact]
    public void The_default_guest_image_directory_is_guest_build_sh_s()
    {
        var expected = Environment.GetEnvironmentVariable("KATA_GUEST_DIR") is { Length: > 0 } explicitDirectory
            ? explicitDirectory
            : Path.Join(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg : Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "kata-workflows", "guest");

        Assert.Equal(expected, new QemuHypervisorOptions().GuestImageDirectory);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static string Comma(string path)
    {
        var with = path + ",readonly=on";
        File.Copy(path, with);
        return with;
    }
}
