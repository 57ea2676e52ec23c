using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Networks.TcFilter;

/// <summary>
/// The names the driver gives what it creates, all derived from the sandbox id and the interface's name so that a
/// step run again (or a removal after a crash, with no record of what was made) finds the same objects:
/// <list type="bullet">
/// <item>the namespace <c>&lt;NetnsPrefix&gt;&lt;sandboxId&gt;</c> (a long id is cut and given a hash), pinned by
/// <c>ip netns add</c> in <c>/run/netns</c>;</item>
/// <item>the veth's host end <c>&lt;HostDevicePrefix&gt;&lt;hex hash of sandbox id and interface name&gt;</c>, 15
/// characters;</item>
/// <item>in the namespace, the veth's other end named as the interface (<c>eth0</c> for the sandbox's endpoint) and
/// its tap <c>tap&lt;n&gt;_kata</c> for <c>eth&lt;n&gt;</c> (Kata's names), else <c>kt&lt;hex hash&gt;</c>.</item>
/// </list>
/// Every value that becomes a command argument is checked here first; the messages name the field.
/// </summary>
internal static partial class TcFilterNames
{
    /// <summary>Where <c>ip netns</c> pins namespaces.</summary>
    public const string NetnsDirectory = "/run/netns";

    /// <summary>The name of the sandbox's own endpoint, in the namespace and in the guest.</summary>
    public const string PrimaryInterface = "eth0";

    /// <summary>Linux's limit on a device name (IFNAMSIZ - 1).</summary>
    public const int MaxDeviceName = 15;

    private const int MaxNetnsIdChars = 40;

    /// <summary>The namespace name of a sandbox.</summary>
    public static string Netns(string prefix, string sandboxId)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        var id = sandboxId.Length <= MaxNetnsIdChars ? sandboxId : sandboxId[..(MaxNetnsIdChars - 9)] + "-" + Hash(sandboxId, 8);
        return prefix + id;
    }

    /// <summary>The veth's host end for an interface of a sandbox.</summary>
    public static string HostVeth(string prefix, string sandboxId, string interfaceName) =>
        prefix + Hash(sandboxId + "/" + interfaceName, MaxDeviceName - prefix.Length);

    /// <summary>The tap in the namespace for an interface.</summary>
    public static string Tap(string interfaceName)
    {
        var match = EthRegex().Match(interfaceName);
        if (match.Success)
        {
            var tap = $"tap{match.Groups[1].Value}_kata";
            if (tap.Length <= MaxDeviceName)
            {
                return tap;
            }
        }

        return "kt" + Hash(interfaceName, 10);
    }

    /// <summary>Whether a name is one the driver gives taps (so no interface may take it).</summary>
    public static bool IsTapName(string name) => TapRegex().IsMatch(name);

    /// <summary>Checks a device name: 1 to 15 of <c>[A-Za-z0-9_.-]</c>, not starting with '-' or '.', not <c>lo</c>.</summary>
    /// <exception cref="InvalidSandboxArgumentException">It is not.</exception>
    public static void ValidateDevice(string? name, string field)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxDeviceName || !DeviceRegex().IsMatch(name))
        {
            throw new InvalidSandboxArgumentException(field, $"{field} must be a device name of 1 to {MaxDeviceName} characters from [A-Za-z0-9_.-] not starting with '-' or '.', got '{Shown(name)}'");
        }

        if (name == "lo")
        {
            throw new InvalidSandboxArgumentException(field, $"{field} must not be 'lo' (the namespace's loopback)");
        }
    }

    /// <summary>Checks an interface's name in the namespace and the guest: a device name that is not a tap name.</summary>
    /// <exception cref="InvalidSandboxArgumentException">It is not.</exception>
    public static void ValidateInterfaceName(string? name, string field)
    {
        ValidateDevice(name, field);
        if (IsTapName(name!))
        {
            throw new InvalidSandboxArgumentException(field, $"{field} '{name}' is the name of a tap the tcfilter driver creates in the namespace");
        }
    }

    /// <summary>Checks a MAC address: six colon-separated hex pairs, unicast, not all zero. Returns it in lower case.</summary>
    /// <exception cref="InvalidSandboxArgumentException">It is not one.</exception>
    public static string ValidateMac(string? mac, string field)
    {
        if (string.IsNullOrEmpty(mac) || !MacRegex().IsMatch(mac))
        {
            throw new InvalidSandboxArgumentException(field, $"{field} must be a MAC address like 02:00:00:00:00:01, got '{Shown(mac)}'");
        }

        var first = byte.Parse(mac.AsSpan(0, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        if ((first & 1) != 0 || mac.Replace(":", string.Empty, StringComparison.Ordinal).All(c => c == '0'))
        {
            throw new InvalidSandboxArgumentException(field, $"{field} must be a unicast, non-zero MAC address, got '{mac}'");
        }

        return mac.ToLowerInvariant();
    }

    /// <summary>Checks a netns path given by the caller: absolute, no dot segments or control characters, and (when it must) present.</summary>
    /// <exception cref="InvalidSandboxArgumentException">It is not.</exception>
    public static void ValidateNetnsPath(string path, string field, bool mustExist = true)
    {
        if (!path.StartsWith('/') || path.Length > 4096 || path.Any(char.IsControl)
            || path.Split('/').Any(segment => segment is "." or ".."))
        {
            throw new InvalidSandboxArgumentException(field, $"{field} must be an absolute path without '.' or '..' segments, got '{Shown(path)}'");
        }

        if (mustExist && !File.Exists(path))
        {
            throw new InvalidSandboxArgumentException(field, $"{field} '{path}' does not exist (a network namespace to adopt must be there; leave it empty to have one created)");
        }
    }

    /// <summary>The name of a namespace <c>ip -n</c> can reach: the file name of a path in <c>/run/netns</c>, else null.</summary>
    public static string? NamedNetns(string path)
    {
        foreach (var directory in (string[])[NetnsDirectory + "/", "/var" + NetnsDirectory + "/"])
        {
            if (path.StartsWith(directory, StringComparison.Ordinal) && path.Length > directory.Length && path.IndexOf('/', directory.Length) < 0)
            {
                return path[directory.Length..];
            }
        }

        return null;
    }

    private static string Hash(string text, int hexChars) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..hexChars];

    private static string Shown(string? text) => text is null ? "" : text.Length > 40 ? text[..40] + "…" : text;

    [GeneratedRegex("^eth([0-9]{1,6})$", RegexOptions.CultureInvariant)]
    private static partial Regex EthRegex();

    [GeneratedRegex("^(tap[0-9]+_kata|kt[0-9a-f]{10})$", RegexOptions.CultureInvariant)]
    private static partial Regex TapRegex();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$", RegexOptions.CultureInvariant)]
    private static partial Regex DeviceRegex();

    [GeneratedRegex("^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$", RegexOptions.CultureInvariant)]
    private static partial Regex MacRegex();
}
