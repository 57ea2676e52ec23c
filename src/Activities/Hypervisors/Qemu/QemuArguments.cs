using System.Globalization;
using System.Text;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>
/// The checks every value passes before it is put on QEMU's command line or into a QMP command. QEMU parses most
/// option values as <c>key=value,key=value</c>, so a comma in a path or a name would add an option of the caller's
/// choosing: values with a comma or a control character are refused, with an error that names the field.
/// </summary>
internal static class QemuArguments
{
    /// <summary>The longest Unix socket path (<c>sun_path</c> holds 108 bytes with the terminating NUL).</summary>
    public const int MaxSocketPathBytes = 107;

    /// <summary>The longest kernel command line accepted from a sandbox config.</summary>
    public const int MaxKernelParamsLength = 2048;

    /// <summary>What in a value would split or end a QEMU option, described for an error message; null when it is safe.</summary>
    public static string? FindUnsafe(string value)
    {
        foreach (var c in value)
        {
            if (c == ',')
            {
                return "a comma (QEMU's option separator)";
            }

            if (char.IsControl(c))
            {
                return $"a control character (U+{(int)c:X4})";
            }
        }

        return null;
    }

    /// <summary>Checks an absolute path that goes into a QEMU option or argument.</summary>
    /// <exception cref="InvalidSandboxArgumentException">The path is relative, or holds a comma or a control character.</exception>
    public static string SafePath(string? path, string field)
    {
        if (string.IsNullOrEmpty(path) || !Path.IsPathFullyQualified(path))
        {
            throw new InvalidSandboxArgumentException(field, $"{field} must be an absolute path, got '{Shown(path)}'");
        }

        if (FindUnsafe(path) is { } bad)
        {
            throw new InvalidSandboxArgumentException(field, $"{field} must not contain {bad}: QEMU would read it as another option ('{Shown(path)}')");
        }

        return path;
    }

    /// <summary>Checks that a path names an existing regular file (a symbolic link to one is followed).</summary>
    /// <exception cref="InvalidSandboxArgumentException">It does not exist or is not a regular file.</exception>
    public static string ExistingFile(string? path, string field)
    {
        SafePath(path, field);
        if (!File.Exists(path))
        {
            throw new InvalidSandboxArgumentException(
                field, Directory.Exists(path) ? $"{field} names a directory, not a file: '{path}'" : $"{field} does not exist: '{path}'");
        }

        var info = new FileInfo(path!);
        var target = info.LinkTarget is null ? info : info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo;
        if (target is null || !target.Exists || !UnixFiles.IsRegularFile(target.FullName))
        {
            throw new InvalidSandboxArgumentException(field, $"{field} is not a regular file: '{path}'");
        }

        return path!;
    }

    /// <summary>Checks a network interface name (a tap device): 1 to 15 of <c>[A-Za-z0-9_.-]</c>.</summary>
    public static string InterfaceName(string? name, string field)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 15 || name is "." or ".."
            || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
        {
            throw new InvalidSandboxArgumentException(field, $"{field} must be a network interface name of 1 to 15 letters, digits, '_', '.' or '-', got '{Shown(name)}'");
        }

        return name;
    }

    /// <summary>Checks a MAC address (<c>xx:xx:xx:xx:xx:xx</c>, hex) and returns it in lower case.</summary>
    public static string MacAddress(string? mac, string field)
    {
        var parts = (mac ?? string.Empty).Split(':');
        if (parts.Length != 6 || !parts.All(p => p.Length == 2 && p.All(char.IsAsciiHexDigit)))
        {
            throw new InvalidSandboxArgumentException(field, $"{field} must be a MAC address (xx:xx:xx:xx:xx:xx), got '{Shown(mac)}'");
        }

        if ((Convert.ToByte(parts[0], 16) & 1) != 0)
        {
            throw new InvalidSandboxArgumentException(field, $"{field} is a multicast address, which a NIC cannot have: '{mac}'");
        }

        return mac!.ToLowerInvariant();
    }

    /// <summary>Checks extra kernel parameters: printable, without control characters, at most <see cref="MaxKernelParamsLength"/> characters.</summary>
    public static string KernelParams(string? value, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            return string.Empty;
        }

        if (value.Length > MaxKernelParamsLength || value.Any(c => char.IsControl(c) || c > '~'))
        {
            throw new InvalidSandboxArgumentException(field, $"{field} must be at most {MaxKernelParamsLength} printable ASCII characters");
        }

        return value;
    }

    /// <summary>Checks that a Unix socket path fits <c>sun_path</c>.</summary>
    public static void SocketPath(string path, string field)
    {
        var bytes = Encoding.UTF8.GetByteCount(path);
        if (bytes > MaxSocketPathBytes)
        {
            throw new InvalidSandboxArgumentException(
                field, $"{field} makes the socket path '{path}' {bytes} bytes long; a Unix socket path holds at most {MaxSocketPathBytes} (use a shorter id or HostStore:RunRoot)");
        }
    }

    /// <summary>A QEMU id derived from a MAC address (<c>prefix-0200000000ab</c>).</summary>
    public static string IdFromMac(string prefix, string mac) => prefix + "-" + mac.Replace(":", string.Empty, StringComparison.Ordinal).ToLowerInvariant();

    /// <summary>A QEMU id (and block node name: at most 31 characters) derived from a device id.</summary>
    public static string IdFromDevice(string prefix, string deviceId)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(deviceId));
        return prefix + "-" + Convert.ToHexStringLower(hash, 0, 8);
    }

    /// <summary>A number as QEMU reads it.</summary>
    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Shown(string? value) => value is null ? string.Empty : value.Length > 80 ? value[..80] + "…" : value;
}
