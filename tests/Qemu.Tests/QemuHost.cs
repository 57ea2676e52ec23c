using System.Diagnostics;
using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Activities.Hypervisors.Qemu;
using KataWorkflows.Activities.Store;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Qemu.Tests;

/// <summary>
/// What the tests need of the machine and the drivers over a temporary run root: the guest image (built by
/// guest/build.sh, which returns at once when it is current), QEMU, and root for network namespaces and bind mounts.
/// When a part is missing the tests skip, unless CI is set, where they fail.
/// </summary>
internal static class QemuHost
{
    private static readonly string[] BuildTools = ["apt-get", "dpkg-deb", "cpio", "gzip", "mkfs.ext4", "gcc"];
    private static readonly SemaphoreSlim ImageGate = new(1, 1);
    private static bool _imageReady;

    public static bool UnderCi => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    public static string ImageDirectory => QemuHypervisorOptions.DefaultGuestImageDirectory();

    private static bool ImagePresent =>
        File.Exists(Path.Join(ImageDirectory, "vmlinuz")) && File.Exists(Path.Join(ImageDirectory, "initrd.gz")) && Directory.Exists(Path.Join(ImageDirectory, "rootfs"));

    /// <summary>Why the real guest cannot be booted here, or null.</summary>
    public static string? Missing()
    {
        var missing = new List<string>();
        if (!OnPath("qemu-system-x86_64"))
        {
            missing.Add("qemu-system-x86_64");
        }

        if (!OnPath("ip") || !OnPath("nsenter"))
        {
            missing.Add("ip/nsenter");
        }

        if (!Environment.IsPrivilegedProcess)
        {
            missing.Add("root (network namespaces, taps and bind mounts)");
        }

        var canBuild = BuildTools.All(OnPath);
        if (!canBuild && !ImagePresent)
        {
            missing.Add($"the guest image in {ImageDirectory} (and {string.Join(", ", BuildTools.Where(t => !OnPath(t)))} to build it)");
        }

        return missing.Count == 0 ? null : "missing on this machine: " + string.Join("; ", missing);
    }

    /// <summary>Skips (or, under CI, fails) when the guest cannot be booted, else makes sure the image is current.</summary>
    public static async Task<string?> RequireGuestAsync(CancellationToken cancellationToken)
    {
        if (Missing() is { } reason)
        {
            if (UnderCi)
            {
                throw new InvalidOperationException($"CI is set and the QEMU tests cannot run: {reason}");
            }

            return reason;
        }

        await ImageGate.WaitAsync(cancellationToken);
        try
        {
            // An image that is there is used as it is: it may have been built from another checkout's agent (the
            // cache is shared), which the driver does not care about; guest/build.sh runs only when it is missing.
            if (!_imageReady && !ImagePresent && BuildTools.All(OnPath))
            {
                var repo = AppContext.BaseDirectory;
                while (!File.Exists(Path.Join(repo, "guest", "build.sh")))
                {
                    repo = Path.GetDirectoryName(repo.TrimEnd('/')) ?? throw new InvalidOperationException("guest/build.sh not found above the test's directory");
                }

                await RunAsync("bash", [Path.Join(repo, "guest", "build.sh"), ImageDirectory], cancellationToken);
            }

            _imageReady = true;
        }
        finally
        {
            ImageGate.Release();
        }

        return null;
    }

    /// <summary>A short temporary run root (Unix socket paths are limited to 107 bytes).</summary>
    public static string NewRoot()
    {
        var root = Path.Join("/tmp", "kwfq-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        return root;
    }

    public static QemuHypervisorOptions Options(Action<QemuHypervisorOptions>? configure = null)
    {
        var options = new QemuHypervisorOptions { BootTimeout = TimeSpan.FromSeconds(120), MaxMemoryMiB = 2048, MaxVCpus = 2 };
        configure?.Invoke(options);
        return options;
    }

    public static QemuHypervisor Hypervisor(string root, QemuHypervisorOptions? options = null) => new(
        Microsoft.Extensions.Options.Options.Create(options ?? Options()),
        Microsoft.Extensions.Options.Options.Create(new HostStoreOptions { RunRoot = root }),
        Microsoft.Extensions.Options.Options.Create(AgentOptions(root)),
        TimeProvider.System,
        NullLogger<QemuHypervisor>.Instance);

    public static KataAgent Agent(string root) => new(
        Microsoft.Extensions.Options.Options.Create(AgentOptions(root)),
        Microsoft.Extensions.Options.Options.Create(new HostStoreOptions { RunRoot = root }),
        TimeProvider.System,
        NullLogger<KataAgent>.Instance);

    public static KataAgentOptions AgentOptions(string root) => new()
    {
        SharedDirectory = Path.Join(root, "shared"),
        CheckTimeout = TimeSpan.FromSeconds(60),
    };

    public static SandboxConfig Config(string id, int memoryMiB = 512, string? kernel = null, string? initrd = null) => new()
    {
        Id = id,
        HypervisorType = "qemu",
        AgentType = "kata",
        Hostname = id,
        HypervisorConfig = new HypervisorConfig { MemorySizeMiB = memoryMiB, NumVCpus = 1, KernelPath = kernel, InitrdPath = initrd },
    };

    /// <summary>The QEMU processes whose command line names a run directory (none once a VM is stopped).</summary>
    public static IReadOnlyList<int> QemuProcessesOf(string runDirectory)
    {
        var pids = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Join(entry, "stat"));
                if (stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z'))
                {
                    continue;
                }

                if (File.ReadAllText(Path.Join(entry, "cmdline")).Contains(runDirectory + "/", StringComparison.Ordinal))
                {
                    pids.Add(pid);
                }
            }
            catch (IOException)
            {
                // Gone since it was listed.
            }
        }

        return pids;
    }

    public static async Task<string> RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken, bool check = true)
    {
        var info = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (check && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{await stdout}\n{await stderr}");
        }

        return await stdout;
    }

    /// <summary>Awaits a condition, checking every 100 ms, up to a timeout; the failure says what was awaited.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        while (!await condition())
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), limit.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                Assert.Fail($"{what} did not happen within {timeout}");
            }
        }
    }

    public static UnixFileMode Mode(string path) => File.GetUnixFileMode(path);

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => File.Exists(Path.Join(directory, tool)));
}
