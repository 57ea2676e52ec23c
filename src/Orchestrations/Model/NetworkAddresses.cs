using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace KataWorkflows.Orchestrations.Model;

/// <summary>
/// Interface addresses as text: an IP address with a prefix length (<c>10.88.0.2/24</c>, <c>fd00::2/64</c>). Unlike
/// <see cref="IPNetwork"/>, the address may have host bits set: it names an interface's address, not a network.
/// </summary>
public static class NetworkAddresses
{
    /// <summary>Parses an address with a prefix length; false for anything else (no prefix, a prefix out of range, spaces).</summary>
    public static bool TryParse(string? text, out IPAddress address, out int prefixLength)
    {
        address = IPAddress.None;
        prefixLength = 0;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || !TryParseAddress(text[..slash], out var parsed))
        {
            return false;
        }

        var digits = text.AsSpan(slash + 1);
        if (digits.IsEmpty || digits.Length > 3
            || !int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var prefix)
            || prefix > (parsed.AddressFamily == AddressFamily.InterNetwork ? 32 : 128))
        {
            return false;
        }

        address = parsed;
        prefixLength = prefix;
        return true;
    }

    /// <summary>
    /// Parses an address in its usual form only: IPv4 as four decimal octets (not the shorthand <c>10.1</c> that
    /// <see cref="IPAddress.TryParse(string?, out IPAddress?)"/> also takes), IPv6 without a scope.
    /// </summary>
    public static bool TryParseAddress(string? text, out IPAddress address)
    {
        address = IPAddress.None;
        if (string.IsNullOrEmpty(text) || !IPAddress.TryParse(text, out var parsed))
        {
            return false;
        }

        var usual = parsed.AddressFamily == AddressFamily.InterNetwork
            ? parsed.ToString() == text
            : parsed.AddressFamily == AddressFamily.InterNetworkV6 && parsed.ScopeId == 0 && !text.Contains('%', StringComparison.Ordinal);
        if (usual)
        {
            address = parsed;
        }

        return usual;
    }

    /// <summary>
    /// Checks a sandbox's endpoint address and gateway: the address is an address with a prefix length, the gateway
    /// (only with an address) an address of the same family in the same subnet, other than the address.
    /// </summary>
    /// <exception cref="InvalidSandboxArgumentException">One of them is wrong; the message names the field.</exception>
    public static void Validate(string? ipAddress, string? gateway, string field)
    {
        if (string.IsNullOrEmpty(ipAddress))
        {
            if (!string.IsNullOrEmpty(gateway))
            {
                throw new InvalidSandboxArgumentException($"{field}.gateway", $"{field}.gateway needs {field}.ipAddress (a pool address brings its own gateway), got '{gateway}'");
            }

            return;
        }

        if (!TryParse(ipAddress, out var address, out var prefix))
        {
            throw new InvalidSandboxArgumentException($"{field}.ipAddress", $"{field}.ipAddress is not an address with a prefix length (e.g. 10.88.0.2/24): '{ipAddress}'");
        }

        if (string.IsNullOrEmpty(gateway))
        {
            return;
        }

        if (!TryParseAddress(gateway, out var gw) || gw.AddressFamily != address.AddressFamily)
        {
            throw new InvalidSandboxArgumentException($"{field}.gateway", $"{field}.gateway is not an IP address of the same family as {field}.ipAddress: '{gateway}'");
        }

        var subnet = new IPNetwork(Network(address, prefix), prefix);
        if (!subnet.Contains(gw) || gw.Equals(address))
        {
            throw new InvalidSandboxArgumentException($"{field}.gateway", $"{field}.gateway must be another address in {subnet}, got '{gateway}'");
        }
    }

    /// <summary>The network address of an address with a prefix length (the host bits cleared).</summary>
    public static IPAddress Network(IPAddress address, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefixLength - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }
}
