using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Networks.TcFilter;

/// <summary>Checks <see cref="TcFilterNetworkOptions"/> at start; each failure names its key.</summary>
public sealed partial class TcFilterNetworkOptionsValidator : IValidateOptions<TcFilterNetworkOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, TcFilterNetworkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        const string Section = TcFilterNetworkOptions.SectionName;
        if (!TryParsePool(options.AddressPool, out var pool))
        {
            failures.Add($"{Section}:AddressPool must be an IPv4 network in CIDR form with its host bits clear (e.g. {TcFilterNetworkOptions.DefaultAddressPool}), got '{options.AddressPool}'.");
        }
        else if (options.SubnetPrefixLength < pool.PrefixLength || options.SubnetPrefixLength > 30)
        {
            failures.Add($"{Section}:SubnetPrefixLength must be between the pool's prefix length ({pool.PrefixLength}) and 30, got {options.SubnetPrefixLength}.");
        }

        if (options.Mtu is < 68 or > 65535)
        {
            failures.Add($"{Section}:Mtu must be between 68 and 65535, got {options.Mtu}.");
        }

        if (options.NetnsPrefix is null || !NetnsPrefixRegex().IsMatch(options.NetnsPrefix))
        {
            failures.Add($"{Section}:NetnsPrefix must be 1 to 16 of [A-Za-z0-9_.-] starting with a letter or digit, got '{options.NetnsPrefix}'.");
        }

        if (options.HostDevicePrefix is null || !DevicePrefixRegex().IsMatch(options.HostDevicePrefix))
        {
            failures.Add($"{Section}:HostDevicePrefix must be 1 to 5 of [a-z0-9] starting with a letter, got '{options.HostDevicePrefix}'.");
        }

        if (options.CommandTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{Section}:CommandTimeout must be positive, got {options.CommandTimeout}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Parses a pool: an IPv4 network whose text is its network address and prefix length.</summary>
    internal static bool TryParsePool(string? text, out IPNetwork pool)
    {
        pool = default;
        if (string.IsNullOrEmpty(text) || !IPNetwork.TryParse(text, out var parsed)
            || parsed.BaseAddress.AddressFamily != AddressFamily.InterNetwork || parsed.ToString() != text)
        {
            return false;
        }

        pool = parsed;
        return true;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,15}$", RegexOptions.CultureInvariant)]
    private static partial Regex NetnsPrefixRegex();

    [GeneratedRegex("^[a-z][a-z0-9]{0,4}$", RegexOptions.CultureInvariant)]
    private static partial Regex DevicePrefixRegex();
}
