using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataWorkflows.RealSandbox.Tests.Harness;

/// <summary>
/// Everything one test class makes, uniquely named: a directory (state, run root, shared directory, socket, container
/// rootfs copies), a netns prefix, a host device prefix and an address pool of its own, so that what it leaves can be
/// told from what other tests on the machine make. Disposing removes all of it, also after a failure: VMs whose command
/// line names the directory, namespaces and links with the prefixes, mounts under the directory, then the directory.
/// </summary>
public sealed class RealSite : IAsyncDisposable
{
    private static int _sites;

    /// <summary>Creates a site.</summary>
    public RealSite(string name)
    {
        Tag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2));
        Directory = Path.Join("/tmp", $"kwf-rs-{name}-{Tag}");
        System.IO.Directory.CreateDirectory(Directory);
        NetnsPrefix = $"rs{Tag}-";
        HostDevicePrefix = $"r{Tag}";

        // 10.214.0.0/16 split per site: a /24 each, picked from the tag, far from the driver's default 10.213.0.0/16.
        var third = (Convert.ToInt32(Tag, 16) + Interlocked.Increment(ref _sites)) % 256;
        AddressPool = $"10.214.{third.ToString(CultureInfo.InvariantCulture)}.0/24";
    }

    /// <summary>Four hex digits that name what this site makes.</summary>
    public string Tag { get; }

    /// <summary>The site's directory.</summary>
    public string Directory { get; }

    /// <summary>The host's state directory (the SQLite store).</summary>
    public string StateDirectory => Path.Join(Directory, "state");

    /// <summary>The host's run root (Kata's /run/vc).</summary>
    public string RunRoot => Path.Join(Directory, "run");

    /// <summary>The Kata agent's shared directory (Kata's /run/kata-containers/shared/sandboxes).</summary>
    public string SharedDirectory => Path.Join(Directory, "shared");

    /// <summary>The host's Unix socket.</summary>
    public string Socket => Path.Join(Directory, "kwf.sock");

    /// <summary>The SQLite store file.</summary>
    public string Database => Path.Join(StateDirectory, "store.db");

    /// <summary>The tcfilter driver's namespace prefix for this site.</summary>
    public string NetnsPrefix { get; }

    /// <summary>The tcfilter driver's host device prefix for this site.</summary>
    public string HostDevicePrefix { get; }

    /// <summary>The tcfilter driver's address pool for this site.</summary>
    public string AddressPool { get; }

    /// <summary>Every sandbox id the site handed out.</summary>
    public HashSet<string> SandboxIds { get; } = new(StringComparer.Ordinal);

    /// <summary>The host's configuration: the real drivers as defaults, this site's directories, names and pool.</summary>
    public Dictionary<string, string> HostSettings => new(StringComparer.Ordinal)
    {
        ["KataWorkflows__StateDirectory"] = StateDirectory,
        ["KataWorkflows__RunRoot"] = RunRoot,
        ["KataWorkflows__Listen__UnixSocket"] = Socket,
        ["KataWorkflows__Sandboxes__DefaultHypervisor"] = "qemu",
        ["KataWorkflows__Sandboxes__DefaultAgent"] = "kata",
        ["KataWorkflows__Sandboxes__DefaultNetwork"] = "tcfilter",
        ["KataWorkflows__Sandboxes__GuestImageDirectory"] = RealParts.GuestImage,
        ["KataWorkflows__Sandboxes__DefaultMemoryMiB"] = "256",
        ["KataWorkflows__KataAgent__SharedDirectory"] = SharedDirectory,
        ["KataWorkflows__Network__AddressPool"] = AddressPool,
        ["KataWorkflows__Network__NetnsPrefix"] = NetnsPrefix,
        ["KataWorkflows__Network__HostDevicePrefix"] = HostDevicePrefix,
        ["KataWorkflows__Qemu__Accelerator"] = "tcg",
    };

    /// <summary>A new sandbox id of this site.</summary>
    public string NewSandboxId(string name)
    {
        var id = $"{name}-{Tag}";
        SandboxIds.Add(id);
        return id;
    }

    /// <summary>A copy of the guest image's busybox rootfs for one container (the agent bind-mounts it into the share).</summary>
    public async Task<string> RootfsAsync(string name)
    {
        var path = Path.Join(Directory, "rootfs", name);
        if (!System.IO.Directory.Exists(path))
        {
            System.IO.Directory.CreateDirectory(Path.Join(Directory, "rootfs"));
            await Run.CheckedAsync("cp", "-a", Path.Join(RealParts.GuestImage, "rootfs"), path);
        }

        return path;
    }

    /// <summary>Runs kwf against the site's host.</summary>
    public Task<RunResult> KwfAsync(params string[] args) =>
        Run.CommandAsync(TestSupport.ChildProcess.DotnetHost(), [Artifacts.Kwf, .. args], TimeSpan.FromMinutes(4), new Dictionary<string, string> { ["KWF_SOCKET"] = Socket });

    /// <summary>Runs kwf with --json and returns the parsed output; fails the test when kwf fails.</summary>
    public async Task<JsonNode?> KwfJsonAsync(params string[] args)
    {
        var result = await KwfAsync(["--json", .. args]);
        Assert.True(result.Exit == 0, result.ToString());
        return JsonNode.Parse(result.Stdout);
    }

    /// <summary>The ids of the sandboxes the running host has records of.</summary>
    public async Task<IReadOnlyList<string>> RecordsAsync()
    {
        var list = await KwfJsonAsync("sandbox", "list");
        return [.. (list as JsonArray ?? []).Select(s => s!["id"]!.GetValue<string>())];
    }

    /// <summary>The namespace the tcfilter driver makes for a sandbox.</summary>
    public string NetnsOf(string sandboxId) => NetnsPrefix + sandboxId;

    /// <summary>The host end of a sandbox's veth for an interface (the tcfilter driver's naming).</summary>
    public string HostVethOf(string sandboxId, string interfaceName = "eth0") =>
        HostDevicePrefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sandboxId + "/" + interfaceName)))[..(15 - HostDevicePrefix.Length)];

    /// <summary>The run directory of a sandbox's VM (QMP socket, pidfile, console log, agent channel).</summary>
    public string VmDirectory(string sandboxId) => Path.Join(RunRoot, "vm", sandboxId);

    /// <summary>
    /// The last lines of every VM's console log under this site (the guest's init and agent write there, and the kernel
    /// on a panic): what a failed call's message needs when the guest went away under it.
    /// </summary>
    public string ConsoleTails(int lines = 40)
    {
        var vms = Path.Join(RunRoot, "vm");
        if (!System.IO.Directory.Exists(vms))
        {
            return "(no VM run directory)";
        }

        var text = new StringBuilder();
        foreach (var log in System.IO.Directory.EnumerateFiles(vms, "console.log", SearchOption.AllDirectories))
        {
            string[] all;
            try
            {
                using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var reader = new StreamReader(stream);
                all = reader.ReadToEnd().Split('\n');
            }
            catch (IOException e)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"{log}: {e.Message}");
                continue;
            }

            text.AppendLine(CultureInfo.InvariantCulture, $"--- last {lines} lines of {log}:");
            foreach (var line in all.TakeLast(lines))
            {
                text.AppendLine(line);
            }
        }

        return text.Length == 0 ? "(no console log)" : text.ToString();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var pid in Inspect.QemuProcesses(Directory))
        {
            await Run.CommandAsync("kill", ["-KILL", pid.ToString(CultureInfo.InvariantCulture)]);
        }

        foreach (var ns in await Inspect.NetnsAsync(NetnsPrefix))
        {
            await Run.CommandAsync("ip", ["netns", "delete", ns]);
        }

        foreach (var link in await Inspect.LinksAsync(null, HostDevicePrefix))
        {
            await Run.CommandAsync("ip", ["link", "delete", link]);
        }

        foreach (var mount in Inspect.MountsUnder(Directory).Reverse())
        {
            await Run.CommandAsync("umount", ["-l", mount]);
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Left to the temp cleaner: a file a dying process still held.
        }
    }

    /// <summary>Parses JSON text.</summary>
    public static JsonNode? Json(string text) => JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true });
}
