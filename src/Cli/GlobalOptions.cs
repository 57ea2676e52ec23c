using System.CommandLine;
using System.Globalization;
using KataWorkflows.Cli.Transport;

namespace KataWorkflows.Cli;

/// <summary>The options every command accepts (declared once on the root, recursive), with their environment defaults.</summary>
public sealed class GlobalOptions
{
    /// <summary>Creates the options; <paramref name="environment"/> reads environment variables (for defaults).</summary>
    public GlobalOptions(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        Socket = new Option<string>("--socket")
        {
            Description = $"Unix socket of the host [env KWF_SOCKET; default {ConnectionSettings.DefaultSocket}]",
            Recursive = true,
            DefaultValueFactory = _ => environment("KWF_SOCKET") is { Length: > 0 } s ? s : ConnectionSettings.DefaultSocket,
        };
        Address = new Option<string?>("--address")
        {
            Description = "Host address https://host:port instead of the socket [env KWF_ADDRESS]",
            Recursive = true,
            DefaultValueFactory = _ => Env(environment, "KWF_ADDRESS"),
        };
        CaCert = new Option<string?>("--ca-cert")
        {
            Description = "PEM file of the CA that signed the host's certificate [env KWF_CA_CERT]",
            Recursive = true,
            DefaultValueFactory = _ => Env(environment, "KWF_CA_CERT"),
        };
        Cert = new Option<string?>("--cert")
        {
            Description = "PEM file of the client certificate [env KWF_CERT]",
            Recursive = true,
            DefaultValueFactory = _ => Env(environment, "KWF_CERT"),
        };
        Key = new Option<string?>("--key")
        {
            Description = "PEM file of the client certificate's key [env KWF_KEY]",
            Recursive = true,
            DefaultValueFactory = _ => Env(environment, "KWF_KEY"),
        };
        ConsoleUrl = new Option<string?>("--console-url")
        {
            Description = "Base URL of the host's web console (http://127.0.0.1:8080): kwf then prints a run's console page [env KWF_CONSOLE_URL]",
            Recursive = true,
            DefaultValueFactory = _ => Env(environment, "KWF_CONSOLE_URL"),
        };
        Json = new Option<bool>("--json") { Description = "Write JSON for scripts instead of tables", Recursive = true };
        RequestId = new Option<string?>("--request-id")
        {
            Description = "Request id of a mutating call: a retried call with the same id joins the same run",
            Recursive = true,
        };
        NoWait = new Option<bool>("--no-wait")
        {
            Description = "Start the run and print its instance id without following it",
            Recursive = true,
        };
        Timeout = new Option<string?>("--timeout")
        {
            Description = "Give up waiting after this long (e.g. 30s, 5m, 1h30m; a number is seconds); a started run goes on",
            Recursive = true,
        };
    }

    /// <summary><c>--socket</c>.</summary>
    public Option<string> Socket { get; }

    /// <summary><c>--address</c>.</summary>
    public Option<string?> Address { get; }

    /// <summary><c>--ca-cert</c>.</summary>
    public Option<string?> CaCert { get; }

    /// <summary><c>--cert</c>.</summary>
    public Option<string?> Cert { get; }

    /// <summary><c>--key</c>.</summary>
    public Option<string?> Key { get; }

    /// <summary><c>--console-url</c>.</summary>
    public Option<string?> ConsoleUrl { get; }

    /// <summary><c>--json</c>.</summary>
    public Option<bool> Json { get; }

    /// <summary><c>--request-id</c>.</summary>
    public Option<string?> RequestId { get; }

    /// <summary><c>--no-wait</c>.</summary>
    public Option<bool> NoWait { get; }

    /// <summary><c>--timeout</c>.</summary>
    public Option<string?> Timeout { get; }

    /// <summary>Every option, to add to the root command.</summary>
    public IEnumerable<Option> All => [Socket, Address, CaCert, Cert, Key, ConsoleUrl, Json, RequestId, NoWait, Timeout];

    /// <summary>The web console's base URL, or null when none is configured.</summary>
    /// <exception cref="CliException">A usage error: the value is not an absolute http:// or https:// URL.</exception>
    public Uri? ConsoleBase(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        if (parse.GetValue(ConsoleUrl) is not { Length: > 0 } text)
        {
            return null;
        }

        return Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "http" or "https" && string.IsNullOrEmpty(url.Query)
            ? url
            : throw CliException.Usage($"--console-url (or KWF_CONSOLE_URL) must be the console's base URL like http://127.0.0.1:8080, got '{text}'");
    }

    /// <summary>The web console's page of a run (<c>BASE/run?id=ID</c>), or null when no console is configured.</summary>
    /// <exception cref="CliException">A usage error: the console URL is malformed.</exception>
    public string? ConsoleRunUrl(ParseResult parse, string instanceId)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        return ConsoleBase(parse) is { } url ? url.AbsoluteUri.TrimEnd('/') + "/run?id=" + Uri.EscapeDataString(instanceId) : null;
    }

    /// <summary>The connection settings the parse result asks for.</summary>
    /// <exception cref="CliException">A usage error naming the bad option.</exception>
    public ConnectionSettings Connection(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        Uri? address = null;
        if (parse.GetValue(Address) is { Length: > 0 } text && !Uri.TryCreate(text, UriKind.Absolute, out address))
        {
            throw CliException.Usage($"--address must be https://host:port, got '{text}'");
        }

        return new ConnectionSettings
        {
            Socket = parse.GetValue(Socket) ?? ConnectionSettings.DefaultSocket,
            Address = address,
            CaCertificate = parse.GetValue(CaCert),
            Certificate = parse.GetValue(Cert),
            Key = parse.GetValue(Key),
        }.Validated();
    }

    /// <summary>The <c>--timeout</c>, or null when none was given.</summary>
    /// <exception cref="CliException">The value is not a duration.</exception>
    public TimeSpan? TimeoutValue(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        return parse.GetValue(Timeout) is { } text ? ParseDuration(text, "--timeout") : null;
    }

    /// <summary>The longest duration an option takes: what a timer or a cancellation can wait (int.MaxValue ms, 24.8 days).</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromMilliseconds(int.MaxValue);

    /// <summary>
    /// Reads a duration: a number of seconds (<c>90</c>, <c>2.5</c>) or units <c>h</c>, <c>m</c>, <c>s</c>, <c>ms</c>
    /// in that order (<c>1h30m</c>, <c>45s</c>, <c>250ms</c>). Must be positive and at most <see cref="MaxDuration"/>.
    /// </summary>
    /// <exception cref="CliException">A usage error naming <paramref name="option"/>.</exception>
    public static TimeSpan ParseDuration(string text, string option)
    {
        ArgumentNullException.ThrowIfNull(text);
        var value = text.Trim();
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            return seconds > 0
                ? Bounded(seconds * 1000, text, option)
                : throw CliException.Usage($"{option} must be positive, got '{text}'");
        }

        var match = System.Text.RegularExpressions.Regex.Match(
            value, @"^(?:(?<h>\d+(?:\.\d+)?)h)?(?:(?<m>\d+(?:\.\d+)?)m(?!s))?(?:(?<s>\d+(?:\.\d+)?)s)?(?:(?<ms>\d+)ms)?$");
        if (value.Length == 0 || !match.Success)
        {
            throw CliException.Usage($"{option} must be a duration like 30s, 5m, 1h30m or 250ms, got '{text}'");
        }

        double Part(string name) => match.Groups[name].Success ? double.Parse(match.Groups[name].Value, CultureInfo.InvariantCulture) : 0;
        var milliseconds = (Part("h") * 3_600_000) + (Part("m") * 60_000) + (Part("s") * 1000) + Part("ms");
        return milliseconds > 0 ? Bounded(milliseconds, text, option) : throw CliException.Usage($"{option} must be positive, got '{text}'");
    }

    // Checked as a double first: TimeSpan.FromHours(99999999999) throws OverflowException.
    private static TimeSpan Bounded(double milliseconds, string text, string option) =>
        milliseconds <= MaxDuration.TotalMilliseconds
            ? TimeSpan.FromMilliseconds(milliseconds)
            : throw CliException.Usage($"{option} must be at most {MaxDuration.TotalHours:0.#}h ({MaxDuration.TotalDays:0.#} days), got '{text}'");

    private static string? Env(Func<string, string?> environment, string name) => environment(name) is { Length: > 0 } value ? value : null;
}
