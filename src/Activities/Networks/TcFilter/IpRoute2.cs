using System.Text.Json;

namespace KataWorkflows.Activities.Networks.TcFilter;

/// <summary>
/// A network namespace as a command target: by name (<c>ip -n NAME</c>, <c>tc -n NAME</c>) for one pinned in
/// <c>/run/netns</c>, else through <c>nsenter --net=PATH</c>.
/// </summary>
internal sealed record Netns(string Path)
{
    /// <summary>The name <c>ip -n</c> takes, or null when the namespace is elsewhere.</summary>
    public string? Name { get; } = TcFilterNames.NamedNetns(Path);

    /// <summary>What <c>ip link ... netns</c> takes: the name, or the path (iproute2 opens a value with a '/' as a path).</summary>
    public string LinkTarget => Name ?? Path;
}

/// <summary>A link as <c>ip -j -d link show</c> reports it.</summary>
internal sealed record LinkInfo(string Name, int Index, int? PeerIndex, int Mtu, string Address, string Kind, bool Up);

/// <summary>The iproute2 commands the driver runs, in the host namespace (a null <see cref="Netns"/>) or in a sandbox's.</summary>
internal sealed class IpRoute2(INetworkCommandRunner runner)
{
    /// <summary>The tc handle of the ingress qdisc (Kata's <c>ffff:</c>).</summary>
    public const string IngressParent = "ffff:";

    /// <summary>The filter priority Kata gives its redirects.</summary>
    public const string FilterPref = "1";

    public Task<string> IpAsync(Netns? netns, CancellationToken cancellationToken, params string[] arguments) => RunAsync("ip", netns, arguments, cancellationToken);

    public Task<string> TcAsync(Netns? netns, CancellationToken cancellationToken, params string[] arguments) => RunAsync("tc", netns, arguments, cancellationToken);

    /// <summary>The namespace's links by name.</summary>
    public async Task<IReadOnlyDictionary<string, LinkInfo>> LinksAsync(Netns? netns, CancellationToken cancellationToken)
    {
        var json = await IpAsync(netns, cancellationToken, "-j", "-d", "link", "show").ConfigureAwait(false);
        var links = new Dictionary<string, LinkInfo>(StringComparer.Ordinal);
        foreach (var link in Parse(json, "ip -j -d link show").EnumerateArray())
        {
            var name = link.GetProperty("ifname").GetString() ?? string.Empty;
            links[name] = new LinkInfo(
                name,
                link.GetProperty("ifindex").GetInt32(),
                link.TryGetProperty("link_index", out var peer) ? peer.GetInt32() : null,
                link.TryGetProperty("mtu", out var mtu) ? mtu.GetInt32() : 0,
                link.TryGetProperty("address", out var address) ? address.GetString() ?? string.Empty : string.Empty,
                link.TryGetProperty("linkinfo", out var info) && info.TryGetProperty("info_kind", out var kind) ? kind.GetString() ?? string.Empty : string.Empty,
                link.TryGetProperty("flags", out var flags) && flags.EnumerateArray().Any(f => f.GetString() == "UP"));
        }

        return links;
    }

    /// <summary>Whether a device has an ingress qdisc.</summary>
    public async Task<bool> HasIngressAsync(Netns? netns, string device, CancellationToken cancellationToken)
    {
        var json = await TcAsync(netns, cancellationToken, "-j", "qdisc", "show", "dev", device).ConfigureAwait(false);
        return Parse(json, "tc -j qdisc show").EnumerateArray().Any(q => q.TryGetProperty("kind", out var kind) && kind.GetString() == "ingress");
    }

    /// <summary>The devices a device's ingress filters of Kata's priority redirect to (empty when it has no ingress qdisc).</summary>
    public async Task<IReadOnlyList<string>> RedirectsAsync(Netns? netns, string device, CancellationToken cancellationToken)
    {
        if (!await HasIngressAsync(netns, device, cancellationToken).ConfigureAwait(false))
        {
            return [];
        }

        var json = await TcAsync(netns, cancellationToken, "-j", "filter", "show", "dev", device, "ingress").ConfigureAwait(false);
        var targets = new List<string>();
        foreach (var filter in Parse(json, "tc -j filter show").EnumerateArray())
        {
            if (filter.TryGetProperty("pref", out var pref) && pref.GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture) == FilterPref
                && filter.TryGetProperty("options", out var options) && options.TryGetProperty("actions", out var actions))
            {
                targets.AddRange(actions.EnumerateArray()
                    .Where(a => a.TryGetProperty("kind", out var kind) && kind.GetString() == "mirred"
                        && a.TryGetProperty("mirred_action", out var action) && action.GetString() == "redirect"
                        && a.TryGetProperty("direction", out var direction) && direction.GetString() == "egress")
                    .Select(a => a.TryGetProperty("to_dev", out var to) ? to.GetString() ?? string.Empty : string.Empty));
            }
        }

        return targets;
    }

    /// <summary>Whether a namespace answers commands (a pinned file with no namespace mounted on it does not).</summary>
    public async Task<bool> UsableAsync(Netns netns, CancellationToken cancellationToken)
    {
        if (!File.Exists(netns.Path))
        {
            return false;
        }

        try
        {
            await IpAsync(netns, cancellationToken, "-j", "link", "show", "lo").ConfigureAwait(false);
            return true;
        }
        catch (NetworkCommandException)
        {
            return false;
        }
    }

    private Task<string> RunAsync(string program, Netns? netns, string[] arguments, CancellationToken cancellationToken)
    {
        if (netns is null)
        {
            return runner.RunAsync(program, arguments, cancellationToken);
        }

        if (netns.Name is { } name)
        {
            return runner.RunAsync(program, ["-n", name, .. arguments], cancellationToken);
        }

        return runner.RunAsync("nsenter", ["--net=" + netns.Path, "--", program, .. arguments], cancellationToken);
    }

    private static JsonElement Parse(string json, string command)
    {
        try
        {
            // iproute2 prints nothing rather than [] for an empty answer.
            using var document = JsonDocument.Parse(string.IsNullOrWhiteSpace(json) ? "[]" : json);
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new NetworkCommandException(command, 0, string.Empty, $"`{command}` printed something that is not JSON: {ex.Message}", ex);
        }
    }
}
