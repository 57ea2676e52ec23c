using System.Globalization;

namespace KataWorkflows.Bench.Cli;

/// <summary>
/// The <c>--name value</c> options of one command. Every option takes a value; unknown, repeated and valueless
/// options are refused up front so a typo never silently runs a different benchmark.
/// </summary>
internal sealed class BenchArguments
{
    private readonly string _command;
    private readonly Dictionary<string, string> _values;

    private BenchArguments(string command, Dictionary<string, string> values)
    {
        _command = command;
        _values = values;
    }

    /// <summary>Splits <paramref name="args"/> into options, accepting only <paramref name="allowed"/> names (with their dashes).</summary>
    public static BenchArguments Parse(string command, IReadOnlyList<string> args, IReadOnlyCollection<string> allowed)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string? value = null;
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            if (name.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }

            if (!name.StartsWith("--", StringComparison.Ordinal))
            {
                throw new UsageException($"unexpected argument '{name}' for '{command}': options are written --name value");
            }

            if (!allowed.Contains(name))
            {
                throw new UsageException($"unknown option '{name}' for '{command}' (valid: {string.Join(", ", allowed)})");
            }

            if (value is null)
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new UsageException($"{name} needs a value");
                }

                value = args[++i];
            }

            if (!values.TryAdd(name, value))
            {
                throw new UsageException($"{name} is given more than once");
            }
        }

        return new BenchArguments(command, values);
    }

    /// <summary>True when the option was given.</summary>
    public bool Has(string name) => _values.ContainsKey(name);

    /// <summary>The option's text, or <paramref name="fallback"/> when it was not given.</summary>
    public string? Text(string name, string? fallback = null) => _values.GetValueOrDefault(name, fallback!);

    /// <summary>A whole number of at least 1.</summary>
    public int PositiveInt(string name, int fallback) => Integer(name, fallback, 1, "a positive integer");

    /// <summary>A whole number of at least 0.</summary>
    public int NonNegativeInt(string name, int fallback) => Integer(name, fallback, 0, "a non-negative integer");

    /// <summary>One of <paramref name="choices"/> (case-insensitive), returned in lower case.</summary>
    public string Choice(string name, string fallback, params string[] choices)
    {
        if (!_values.TryGetValue(name, out var text))
        {
            return fallback;
        }

        var match = choices.FirstOrDefault(c => string.Equals(c, text, StringComparison.OrdinalIgnoreCase));
        return match ?? throw new UsageException($"{name} must be {string.Join(" or ", choices)}, got '{text}'");
    }

    /// <summary>Refuses an option that makes no sense with the others.</summary>
    public void RejectUnless(string name, bool condition, string reason)
    {
        if (Has(name) && !condition)
        {
            throw new UsageException($"{name} {reason} ('{_command}')");
        }
    }

    private int Integer(string name, int fallback, int minimum, string what)
    {
        if (!_values.TryGetValue(name, out var text))
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < minimum)
        {
            throw new UsageException($"{name} must be {what}, got '{text}'");
        }

        return value;
    }
}
