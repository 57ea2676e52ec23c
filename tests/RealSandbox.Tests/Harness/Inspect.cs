using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace KataWorkflows.RealSandbox.Tests.Harness;

/// <summary>What is really on the host: processes from /proc, links, namespaces and filters from <c>ip -j</c> and <c>tc -j</c>, mounts from mountinfo, a VM's state over its QMP socket.</summary>
public static class Inspect
{
    /// <summary>The pids of QEMU processes whose command line mentions <paramref name="marker"/> (a site directory or a sandbox's run directory).</summary>
    public static IReadOnlyList<int> QemuProcesses(string marker)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            string cmdline;
            try
            {
                cmdline = File.ReadAllText(Path.Join(dir, "cmdline")).Replace('\0', ' ');
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            if (cmdline.Contains("qemu-system", StringComparison.Ordinal) && cmdline.Contains(marker, StringComparison.Ordinal))
            {
                pids.Add(pid);
            }
        }

        return pids;
    }

    /// <summary>The named network namespaces (<c>ip netns</c>) that start with a prefix.</summary>
    public static async Task<IReadOnlyList<string>> NetnsAsync(string prefix)
    {
        var text = await Run.CheckedAsync("ip", "-j", "netns", "list");
        return text.Trim().Length == 0 ? [] : [.. (JsonNode.Parse(text) as JsonArray ?? []).Select(n => n!["name"]!.GetValue<string>()).Where(n => n.StartsWith(prefix, StringComparison.Ordinal))];
    }

    /// <summary>The links (<c>ip -j link</c>) of a namespace (the host's when null), optionally only those starting with a prefix.</summary>
    public static async Task<IReadOnlyList<string>> LinksAsync(string? netns, string? prefix = null) =>
        [.. (await LinkDetailsAsync(netns)).Select(l => l["ifname"]!.GetValue<string>()).Where(n => prefix is null || n.StartsWith(prefix, StringComparison.Ordinal))];

    /// <summary>The links of a namespace as <c>ip -j -d link</c> reports them.</summary>
    public static async Task<IReadOnlyList<JsonObject>> LinkDetailsAsync(string? netns)
    {
        string[] args = netns is null ? ["-j", "-d", "link", "show"] : ["-n", netns, "-j", "-d", "link", "show"];
        var text = await Run.CheckedAsync("ip", args);
        return [.. (JsonNode.Parse(text) as JsonArray ?? []).OfType<JsonObject>()];
    }

    /// <summary>The IPv4 addresses (with prefix) of a link.</summary>
    public static async Task<IReadOnlyList<string>> AddressesAsync(string? netns, string link)
    {
        string[] args = netns is null ? ["-j", "-4", "addr", "show", "dev", link] : ["-n", netns, "-j", "-4", "addr", "show", "dev", link];
        var text = await Run.CheckedAsync("ip", args);
        return [.. (JsonNode.Parse(text) as JsonArray ?? []).SelectMany(l => (l!["addr_info"] as JsonArray ?? []).Select(a => $"{a!["local"]}/{a["prefixlen"]}"))];
    }

    /// <summary>The ingress filters of a device in a namespace (<c>tc -j filter show dev D ingress</c>): their actions' text.</summary>
    public static async Task<IReadOnlyList<string>> IngressFiltersAsync(string netns, string device)
    {
        var result = await Run.CommandAsync("tc", ["-n", netns, "-j", "filter", "show", "dev", device, "ingress"]);
        if (result.Exit != 0 || result.Stdout.Trim().Length == 0)
        {
            return [];
        }

        return [.. (JsonNode.Parse(result.Stdout) as JsonArray ?? []).OfType<JsonObject>().Where(f => f["options"] is not null).Select(f => f.ToJsonString())];
    }

    /// <summary>Mount points under a directory (<c>/proc/self/mountinfo</c>), in mount order.</summary>
    public static IReadOnlyList<string> MountsUnder(string directory) =>
        [.. File.ReadAllLines("/proc/self/mountinfo").Select(l => Unescape(l.Split(' ')[4])).Where(m => m.StartsWith(directory + "/", StringComparison.Ordinal))];

    /// <summary>
    /// The VM's run state over its QMP socket (<c>qmp_capabilities</c>, then <c>query-status</c>): <c>running</c>,
    /// <c>paused</c>... QEMU serves one monitor client at a time, so this waits its turn if the driver is connected.
    /// </summary>
    public static async Task<string> QmpStatusAsync(string qmpSocket)
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        budget.CancelAfter(TimeSpan.FromSeconds(30));
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(qmpSocket), budget.Token);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        await using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        await ReplyAsync(reader, "QMP", budget.Token);
        await writer.WriteLineAsync("{\"execute\":\"qmp_capabilities\"}".AsMemory(), budget.Token);
        await ReplyAsync(reader, "return", budget.Token);
        await writer.WriteLineAsync("{\"execute\":\"query-status\"}".AsMemory(), budget.Token);
        var reply = await ReplyAsync(reader, "return", budget.Token);
        return reply["return"]!["status"]!.GetValue<string>();
    }

    private static async Task<JsonNode> ReplyAsync(StreamReader reader, string key, CancellationToken cancellationToken)
    {
        while (true)
        {
            var line = await reader.ReadLineAsync(cancellationToken) ?? throw new IOException("QMP closed the connection");
            var node = JsonNode.Parse(line)!;
            if (node[key] is not null)
            {
                return node;
            }

            if (node["error"] is { } error)
            {
                throw new IOException($"QMP error: {error.ToJsonString()}");
            }
        }
    }

    // mountinfo escapes space, tab, newline and backslash as octal.
    private static string Unescape(string field) =>
        field.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
            .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}
