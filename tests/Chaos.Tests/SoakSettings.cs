using System.Globalization;

namespace KataWorkflows.Chaos.Tests;

/// <summary>
/// How long and how hard the soak runs, from environment variables; the defaults are the short run CI makes.
/// <c>KATA_SOAK_SEED</c> (the RNG seed; a fresh one, printed, when unset), <c>KATA_SOAK_SECONDS</c> (chaos time before
/// the final drain, default 90), <c>KATA_SOAK_KILLS</c> (SIGKILLs, default 4, or one per 30 s when only the seconds are
/// set), <c>KATA_SOAK_SANDBOXES</c> (default 24), <c>KATA_SOAK_CLIENTS</c> (default 8), <c>KATA_SOAK_DRAIN_SECONDS</c>
/// (how long every accepted run has to end after the last restart, default 90), <c>KATA_SOAK_KEEP</c> (keep the
/// directory: 1).
/// </summary>
public sealed record SoakSettings
{
    public required int Seed { get; init; }

    public required TimeSpan Duration { get; init; }

    public required int Kills { get; init; }

    public required int Sandboxes { get; init; }

    public required int Clients { get; init; }

    public required TimeSpan DrainBound { get; init; }

    public required bool Keep { get; init; }

    /// <summary>Fault rules may strike after a step did its work (<c>KATA_SOAK_AFTER_FAULTS=1</c>, off by default: see docs/reliability.md).</summary>
    public required bool AfterFaults { get; init; }

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
            AfterFaults = Environment.GetEnvironmentVariable("KATA_SOAK_AFTER_FAULTS") != "0",
        };
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"seed {Seed} (KATA_SOAK_SEED), {Duration.TotalSeconds:0} s of chaos, {Kills} kills, {Sandboxes} sandboxes, {Clients} clients, drain bound {DrainBound.TotalSeconds:0} s");

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
