using System.Diagnostics;
using System.Globalization;

namespace KataWorkflows.GuestAgent.Network;

/// <summary>An address on a link: family 4 or 6, the address and its prefix length.</summary>
internal sealed record LinkAddress(int Family, string Address, int PrefixLength);

/// <summary>A link as the guest sees it.</summary>
internal sealed record LinkInfo(string Name, ulong Mtu, string HardwareAddress, uint Flags, string Type, IReadOnlyList<LinkAddress> Addresses);

/// <summary>A route as the guest sees it (an empty destination is the default route).</summary>
internal sealed record RouteInfo(string Destination, string Gateway, string Device, string Source, uint Scope, int Family);

/// <summary>
/// The guest's links, addresses and routes, read from sysfs and busybox <c>ip</c>'s output and changed through
/// busybox <c>ip</c> commands (not netlink: the commands are the same calls, and their output is stable enough
/// to parse for what Kata's types carry).
/// </summary>
internal static class IpTool
{
    private const string Busybox = "/bin/busybox";

    /// <summary>Every link with its MTU, MAC, flags and addresses.</summary>
    public static async Task<IReadOnlyList<LinkInfo>> ListLinksAsync(CancellationToken cancellationToken)
    {
        var output = await RunAsync(["ip", "addr", "show"], cancellationToken).ConfigureAwait(false);
        var links = new List<LinkInfo>();
        string? name = null;
        ulong mtu = 0;
        var mac = "";
        var addresses = new List<LinkAddress>();
        void Flush()
        {
            if (name is not null)
            {
                links.Add(new LinkInfo(name, mtu, mac, ReadFlags(name), ReadType(name), [.. addresses]));
            }
        }
        foreach (var line in output.Split('\n'))
        {
            if (line.Length == 0)
            {
                continue;
            }
            if (char.IsAsciiDigit(line[0]))
            {
                // "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast qlen 1000"
                Flush();
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                name = parts[1].TrimEnd(':');
                var at = name.IndexOf('@', StringComparison.Ordinal);
                if (at >= 0)
                {
                    name = name[..at];
                }
                var mtuIndex = Array.IndexOf(parts, "mtu");
                mtu = mtuIndex >= 0 ? ulong.Parse(parts[mtuIndex + 1], CultureInfo.InvariantCulture) : 0;
                mac = "";
                addresses.Clear();
                continue;
            }
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 2 && fields[0].StartsWith("link/", StringComparison.Ordinal))
            {
                mac = fields[0] == "link/none" ? "" : fields[1];
            }
            else if (fields.Length >= 2 && fields[0] is "inet" or "inet6")
            {
                var cidr = fields[1].Split('/');
                addresses.Add(new LinkAddress(fields[0] == "inet" ? 4 : 6, cidr[0],
                    cidr.Length > 1 ? int.Parse(cidr[1], CultureInfo.InvariantCulture) : fields[0] == "inet" ? 32 : 128));
            }
        }
        Flush();
        return links;
    }

    /// <summary>The routes of the main table, IPv4 and IPv6.</summary>
    public static async Task<IReadOnlyList<RouteInfo>> ListRoutesAsync(CancellationToken cancellationToken)
    {
        var routes = new List<RouteInfo>();
        foreach (var family in (int[])[4, 6])
        {
            var output = await RunAsync(family == 4 ? ["ip", "route", "show"] : ["ip", "-6", "route", "show"], cancellationToken)
                .ConfigureAwait(false);
            foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                // "default via 10.0.2.2 dev eth0", "10.0.2.0/24 dev eth0 scope link  src 10.0.2.15"
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 1 && fields[0] == "unicast")
                {
                    fields = fields[1..];
                }
                // Typed routes (multicast, local, broadcast, unreachable...) are not the unicast routes Kata's
                // Route describes.
                if (fields.Length == 0 || fields[0] is "multicast" or "local" or "broadcast" or "anycast" or "unreachable"
                    or "prohibit" or "blackhole" or "throw" or "nat")
                {
                    continue;
                }
                var destination = fields[0] == "default" ? "" : fields[0];
                string gateway = "", device = "", source = "";
                uint scope = 0;
                for (var i = 1; i + 1 < fields.Length; i++)
                {
                    switch (fields[i])
                    {
                        case "via": gateway = fields[++i]; break;
                        case "dev": device = fields[++i]; break;
                        case "src": source = fields[++i]; break;
                        case "scope": scope = ParseScope(fields[++i]); break;
                    }
                }
                routes.Add(new RouteInfo(destination, gateway, device, source, scope, family));
            }
        }
        return routes;
    }

    /// <summary>
    /// Makes the link <paramref name="current"/> look like the request: renamed, its MTU set, its addresses replaced,
    /// and up.
    /// </summary>
    public static async Task UpdateLinkAsync(string current, string name, ulong mtu, IReadOnlyList<LinkAddress> addresses,
        CancellationToken cancellationToken)
    {
        await RunAsync(["ip", "link", "set", "dev", current, "down"], cancellationToken).ConfigureAwait(false);
        if (name.Length > 0 && name != current)
        {
            await RunAsync(["ip", "link", "set", "dev", current, "name", name], cancellationToken).ConfigureAwait(false);
            current = name;
        }
        if (mtu > 0)
        {
            await RunAsync(["ip", "link", "set", "dev", current, "mtu", mtu.ToString(CultureInfo.InvariantCulture)], cancellationToken)
                .ConfigureAwait(false);
        }
        await RunAsync(["ip", "addr", "flush", "dev", current], cancellationToken).ConfigureAwait(false);
        foreach (var address in addresses)
        {
            await RunAsync(address.Family == 6
                ? ["ip", "-6", "addr", "add", $"{address.Address}/{address.PrefixLength}", "dev", current]
                : ["ip", "addr", "add", $"{address.Address}/{address.PrefixLength}", "dev", current], cancellationToken).ConfigureAwait(false);
        }
        await RunAsync(["ip", "link", "set", "dev", current, "up"], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes every route of the main table except those on the loopback link (as Kata's agent does).</summary>
    public static async Task FlushRoutesAsync(CancellationToken cancellationToken)
    {
        foreach (var route in await ListRoutesAsync(cancellationToken).ConfigureAwait(false))
        {
            if (route.Device == "lo" || (route.Family == 6 && route.Destination.StartsWith("fe80:", StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }
            List<string> command = route.Family == 6 ? ["ip", "-6", "route", "del"] : ["ip", "route", "del"];
            command.Add(route.Destination.Length == 0 ? "default" : route.Destination);
            if (route.Gateway.Length > 0)
            {
                command.AddRange(["via", route.Gateway]);
            }
            if (route.Device.Length > 0)
            {
                command.AddRange(["dev", route.Device]);
            }
            await RunAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Adds one route.</summary>
    public static Task AddRouteAsync(RouteInfo route, CancellationToken cancellationToken)
    {
        List<string> command = route.Family == 6 ? ["ip", "-6", "route", "add"] : ["ip", "route", "add"];
        command.Add(route.Destination.Length == 0 ? "default" : route.Destination);
        if (route.Gateway.Length > 0)
        {
            command.AddRange(["via", route.Gateway]);
        }
        if (route.Device.Length > 0)
        {
            command.AddRange(["dev", route.Device]);
        }
        if (route.Source.Length > 0)
        {
            command.AddRange(["src", route.Source]);
        }
        if (route.Scope != 0)
        {
            command.AddRange(["scope", route.Scope.ToString(CultureInfo.InvariantCulture)]);
        }
        return RunAsync(command, cancellationToken);
    }

    /// <summary>Writes /etc/resolv.conf from the sandbox's DNS lines ("nameserver 8.8.8.8", "search example.com").</summary>
    public static async Task WriteResolvConfAsync(IEnumerable<string> lines, CancellationToken cancellationToken)
    {
        var text = string.Concat(lines.Select(l => l.Trim() + "\n"));
        if (text.Length > 0)
        {
            await File.WriteAllTextAsync("/etc/resolv.conf", text, cancellationToken).ConfigureAwait(false);
        }
    }

    private static uint ParseScope(string scope) => scope switch
    {
        "global" or "universe" => 0,
        "site" => 200,
        "link" => 253,
        "host" => 254,
        "nowhere" => 255,
        _ => uint.TryParse(scope, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0,
    };

    private static uint ReadFlags(string name)
    {
        var path = $"/sys/class/net/{name}/flags";
        return File.Exists(path) ? Convert.ToUInt32(File.ReadAllText(path).Trim(), 16) : 0;
    }

    private static string ReadType(string name)
    {
        var uevent = $"/sys/class/net/{name}/uevent";
        if (File.Exists(uevent))
        {
            var devType = File.ReadAllLines(uevent).FirstOrDefault(l => l.StartsWith("DEVTYPE=", StringComparison.Ordinal));
            if (devType is not null)
            {
                return devType[8..];
            }
        }
        return Directory.Exists($"/sys/class/net/{name}/device") ? "device" : name == "lo" ? "loopback" : "";
    }

    /// <summary>Runs a busybox applet; its stdout, or an exception carrying its stderr when it fails.</summary>
    public static async Task<string> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(Busybox)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException("busybox did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', arguments)}: {(await stderr.ConfigureAwait(false)).Trim()} (exit status {process.ExitCode})");
        }
        return await stdout.ConfigureAwait(false);
    }
}
