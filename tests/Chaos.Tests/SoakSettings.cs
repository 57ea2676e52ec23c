using System.Globalization;

namespace KataWorkflows.Chaos.Tests;

/// <summary>
/// How long and how hard the soak runs, from environment variables; the defaults are the short run CI makes.
/// <c>KATA_SOAK_SEED</c> (the RNG seed; a fresh one, printed, when unset), <c>KATA_SOAK_SECONDS</c> (chaos time before
/// the final drain, default 90), <c>KATA_SOAK_KILLS</c> (SIGKILLs, default 4, or one per 30 s when only the seconds are
/// set), <c>KATA_SOAK_SANDBOXES</c> (default 24), <c>KATA_SOAK_CLIENTS</c> (default 8), <c>KATA_SOAK_DRAIN_SECONDS</c>
/// (how long every accepted run has to end after the last restart, default 90), <c>KATA_SOAK_FAULTS</c> (fixed fault
/// rules instead of random ones), <c>KATA_SOAK_AFTER_FAULTS</c> (none, real or all: which random rules may strike after a step's work),
/// <c>KATA_SOAK_KEEP</c> (1: keep the directory), <c>KATA_SOAK_REPORT</c> (a file for the summary).
/// </summary>
internal sealed record SoakSettings
{
    public required int Seed { get; init; }

    public required TimeSpan Duration { get; init; }

    public required int Kills { get; init; }

    public required int Sandboxes { get; init; }

    public required int Clients { get; init; }

    public required TimeSpan DrainBound { get; init; }

    public required bool Keep { get; init; }

    /// <summary>Which random faults may strike after a step did its work (<c>KATA_SOAK_AFTER_FAULTS</c>: none, real (default), all).</summary>
    public required AfterFaults AfterFaults { get; init; }

    /// <summary>Fixed fault rules for every life but the last (<c>KATA_SOAK_FAULTS</c>, the host's Faults:Spec syntax) instead of random ones.</summary>
    public string? Faults { get; init; }

    public static SoakSettings FromEnvironment()
    {
        var seconds = Int("KATA_SOAK_SECONDS", 90, 10, 24 * 3600);
        var killsDefault = Environment.GetEnvironmentVariable("KATA_SOAK_SECONDS") is { Length: > 0 } ? Math.Max(1, seconds / 30) : 4;
        return new SoakSettings
        {
            Seed = Environment.GetEnvironmentVariable("KATA_SOAK_SEED") is { Length: > 0 } s
                ? int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture)
                : Random.Shared.Next(1, int.MaxValue),
            Duration = TimeSpan.FromSeconds(seconds),
            Kills = Int("KATA_SOAK_KILLS", killsDefault, 1, 10_000),
            Sandboxes = Int("KATA_SOAK_SANDBOXES", 24, 1, 1000),
            Clients = Int("KATA_SOAK_CLIENTS", 8, 1, 256),
            DrainBound = TimeSpan.FromSeconds(Int("KATA_SOAK_DRAIN_SECONDS", 90, 5, 3600)),
            Keep = Environment.GetEnvironmentVariable("KATA_SOAK_KEEP") == "1",
            AfterFaults = Environment.GetEnvironmentVariable("KATA_SOAK_AFTER_FAULTS") switch
            {
                null or "" or "real" => AfterFaults.Real,
                "none" => AfterFaults.None,
                "all" => AfterFaults.All,
                var other => throw new ArgumentException($"KATA_SOAK_AFTER_FAULTS must be none, real or all, got '{other}'"),
            },
            Faults = Environment.GetEnvironmentVariable("KATA_SOAK_FAULTS") is { Length: > 0 } f ? f : null,
        };
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"seed {Seed} (KATA_SOAK_SEED), {Duration.TotalSeconds:0} s of chaos, {Kills} kills, {Sandboxes} sandboxes, {Clients} clients, drain bound {DrainBound.TotalSeconds:0} s, faults {Faults ?? $"random (after the work: {AfterFaults.ToString().ToLowerInvariant()})"}");

    private static int Int(string name, int fallback, int min, int max)
    {
        var text = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"{name} must be an integer between {min} and {max}, got '{text}'");
    }
}
