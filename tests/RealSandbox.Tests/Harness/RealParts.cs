namespace KataWorkflows.RealSandbox.Tests.Harness;

/// <summary>
/// What a real sandbox needs on this machine: QEMU, iproute2 (ip, tc), /dev/net/tun, root, and the guest image
/// guest/build.sh makes. Without CI a test skips when a part is absent; with CI set it fails, naming what is missing.
/// </summary>
public static class RealParts
{
    private static readonly Lazy<string?> Missing = new(FindMissing);

    /// <summary>The guest image directory: KATA_GUEST_DIR, else guest/build.sh's default cache.</summary>
    public static string GuestImage { get; } = Environment.GetEnvironmentVariable("KATA_GUEST_DIR")
        ?? Path.Join(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") ?? Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "kata-workflows", "guest");

    private static bool UnderCi => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    /// <summary>Skips the test when a part is absent (fails it under CI).</summary>
    public static void Require()
    {
        if (Missing.Value is not { } missing)
        {
            return;
        }

        if (UnderCi)
        {
            throw new InvalidOperationException($"CI is set and a real sandbox cannot run here: {missing}");
        }

        Assert.Skip($"a real sandbox cannot run here: {missing}");
    }

    /// <summary>True when every part is there.</summary>
    public static bool Present => Missing.Value is null;

    private static string? FindMissing()
    {
        var missing = new List<string>();
        foreach (var tool in new[] { "qemu-system-x86_64", "ip", "tc", "ping", "nsenter" })
        {
            if (!OnPath(tool))
            {
                missing.Add(tool);
            }
        }

        if (!File.Exists("/dev/net/tun"))
        {
            missing.Add("/dev/net/tun");
        }

        if (Environment.UserName != "root")
        {
            missing.Add("root (netns, veth, tap and bind mounts need it)");
        }

        foreach (var file in new[] { "vmlinuz", "initrd.gz", "rootfs/bin/busybox", "rootfs.ext4" })
        {
            if (!File.Exists(Path.Join(GuestImage, file)))
            {
                missing.Add($"{Path.Join(GuestImage, file)} (run guest/build.sh)");
            }
        }

        return missing.Count == 0 ? null : string.Join(", ", missing);
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Join(d, tool)));
}
