using System.Globalization;

namespace KataWorkflows.Sandbox.CrashHost;

/// <summary>When a crash point strikes, relative to an activity.</summary>
internal enum CrashPointWhen
{
    /// <summary>Once the worker took the activity, before it runs: nothing of it happened.</summary>
    Before,

    /// <summary>After the activity ran, before its result is committed: its effects are there, its result is lost.</summary>
    After,
}

/// <summary>
/// The <paramref name="Occurrence"/>-th run of an activity in this process, <c>STEP:N[:before|after]</c>. Fault rules
/// strike the first N runs of a step; a crash point picks one run, so the later runs of a step that a call takes more than
/// once (the second storeSandbox of RunSandbox) can be targeted too.
/// </summary>
internal sealed record CrashPoint(string Step, int Occurrence, CrashPointWhen When)
{
    /// <summary>Reads <c>STEP:N[:before|after]</c>.</summary>
    /// <exception cref="FormatException">The text is malformed.</exception>
    public static CrashPoint Parse(string text)
    {
        var parts = text.Split(':');
        if (parts.Length is < 2 or > 3 || parts[0].Length == 0
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var occurrence) || occurrence < 1)
        {
            throw new FormatException($"'{text}' is not STEP:N[:before|after] with N >= 1");
        }

        var when = parts.Length == 2 || parts[2].Equals("before", StringComparison.OrdinalIgnoreCase) ? CrashPointWhen.Before
            : parts[2].Equals("after", StringComparison.OrdinalIgnoreCase) ? CrashPointWhen.After
            : throw new FormatException($"'{text}': expected before or after, got '{parts[2]}'");
        return new CrashPoint(parts[0], occurrence, when);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Step}#{Occurrence.ToString(CultureInfo.InvariantCulture)} {When.ToString().ToLowerInvariant()}";
}
