using System.Globalization;

namespace KataWorkflows.Activities.Faults;

/// <summary>
/// Faults to inject into the sandbox activities, to test failure and crash paths. Empty by default. Rules come from
/// <see cref="Rules"/> (bound from configuration) and from <see cref="Spec"/>, a compact string convenient in an
/// environment variable, e.g. <c>sandbox.startVM:fail:2,sandbox.createContainers:kill:after</c>.
/// </summary>
public sealed class FaultInjectionOptions
{
    /// <summary>The configuration section these options are usually bound from.</summary>
    public const string SectionName = "Faults";

    /// <summary>The rules, in the order they are tried.</summary>
    public IList<FaultRule> Rules { get; } = [];

    /// <summary>More rules in the string form (see <see cref="Parse"/>); tried after <see cref="Rules"/>.</summary>
    public string? Spec { get; set; }

    /// <summary>Every rule: <see cref="Rules"/>, then those of <see cref="Spec"/>.</summary>
    /// <exception cref="FormatException">The spec has a bad rule.</exception>
    public IReadOnlyList<FaultRule> AllRules() => [.. Rules, .. string.IsNullOrWhiteSpace(Spec) ? [] : Parse(Spec)];

    /// <summary>
    /// Reads rules from their string form: rules separated by <c>,</c> or <c>;</c>, each
    /// <c>step:mode[:times][:before|after][:sandbox=&lt;id&gt;][:skip=&lt;n&gt;]</c>. Modes: <c>fail</c>, <c>hang</c>, <c>kill</c>
    /// (or <c>killprocess</c>), <c>drivererror</c>. Times defaults to 0 (every time), the point to before, skip to 0 (the
    /// first <c>n</c> matches pass before the rule strikes).
    /// </summary>
    /// <exception cref="FormatException">A rule is malformed; the message quotes it and says what is wrong.</exception>
    public static IReadOnlyList<FaultRule> Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var rules = new List<FaultRule>();
        var texts = spec.Split([',', ';'], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < texts.Length; i++)
        {
            rules.Add(ParseRule(texts[i], i + 1));
        }

        return rules;
    }

    private static FaultRule ParseRule(string text, int number)
    {
        var parts = text.Split(':', StringSplitOptions.TrimEntries);
        if (parts.Length < 2 || parts[0].Length == 0)
        {
            throw Bad(text, number, "expected step:mode[:times][:before|after][:sandbox=<id>][:skip=<n>]");
        }

        if (!SandboxActivitiesRegistryExtensions.IsActivityName(parts[0]))
        {
            throw Bad(text, number, $"unknown step '{parts[0]}' (expected one of {string.Join(", ", SandboxActivitiesRegistryExtensions.ActivityNames)})");
        }

        var mode = parts[1].ToLowerInvariant() switch
        {
            "fail" => FaultMode.Fail,
            "hang" => FaultMode.Hang,
            "kill" or "killprocess" => FaultMode.KillProcess,
            "drivererror" or "driver-error" => FaultMode.DriverError,
            _ => throw Bad(text, number, $"unknown mode '{parts[1]}' (expected fail, hang, kill or drivererror)"),
        };
        int? times = null;
        FaultPoint? when = null;
        string? sandboxId = null;
        int? skip = null;
        foreach (var part in parts.Skip(2))
        {
            if (int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                times = times is null ? n : throw Bad(text, number, "the number of times is given twice");
            }
            else if (part.Equals("before", StringComparison.OrdinalIgnoreCase) || part.Equals("after", StringComparison.OrdinalIgnoreCase))
            {
                var point = part.Equals("before", StringComparison.OrdinalIgnoreCase) ? FaultPoint.Before : FaultPoint.After;
                when = when is null ? point : throw Bad(text, number, "before/after is given twice");
            }
            else if (part.StartsWith("sandbox=", StringComparison.OrdinalIgnoreCase) && part.Length > "sandbox=".Length)
            {
                sandboxId = sandboxId is null ? part["sandbox=".Length..] : throw Bad(text, number, "the sandbox is given twice");
            }
            else if (part.StartsWith("skip=", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(part.AsSpan("skip=".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var s))
            {
                skip = skip is null ? s : throw Bad(text, number, "skip is given twice");
            }
            else
            {
                throw Bad(text, number, $"'{part}' is not a number of times, before/after, sandbox=<id> or skip=<n>");
            }
        }

        return new FaultRule { Step = parts[0], Mode = mode, Times = times ?? 0, When = when ?? FaultPoint.Before, SandboxId = sandboxId, Skip = skip ?? 0 };
    }

    private static FormatException Bad(string text, int number, string reason) =>
        new($"Fault rule #{number.ToString(CultureInfo.InvariantCulture)} '{text}' is invalid: {reason}.");
}
