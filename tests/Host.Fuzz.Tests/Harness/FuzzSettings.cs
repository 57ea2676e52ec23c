using System.Globalization;

namespace KataWorkflows.Host.Fuzz.Tests.Harness;

/// <summary>
/// How much to fuzz, from the environment: <c>KATA_FUZZ_SEED</c> (the run's seed; a fixed default so CI is
/// reproducible, <c>random</c> for a new one), <c>KATA_FUZZ_ITERATIONS</c> (inputs per method) and
/// <c>KATA_FUZZ_PARALLEL</c> (calls in flight at once). The defaults keep the whole project under two minutes.
/// </summary>
internal sealed record FuzzSettings(int Seed, int Iterations, int Parallel)
{
    public const string SeedVariable = "KATA_FUZZ_SEED";
    public const string IterationsVariable = "KATA_FUZZ_ITERATIONS";
    public const string ParallelVariable = "KATA_FUZZ_PARALLEL";

    /// <summary>The seed CI runs with, so a failure there reproduces here.</summary>
    public const int DefaultSeed = 20261201;

    /// <summary>Inputs per method in a default run.</summary>
    public const int DefaultIterations = 40;

    public static FuzzSettings FromEnvironment()
    {
        var seedText = Environment.GetEnvironmentVariable(SeedVariable);
        var seed = seedText switch
        {
            null or "" => DefaultSeed,
            "random" => Random.Shared.Next(),
            _ => int.TryParse(seedText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var s)
                ? s
                : throw new InvalidOperationException($"{SeedVariable} must be an integer or 'random', got '{seedText}'"),
        };
        return new FuzzSettings(seed, Positive(IterationsVariable, DefaultIterations), Positive(ParallelVariable, 4));
    }

    /// <summary>The line every fuzz test prints first: what it takes to run it again with the same inputs.</summary>
    public override string ToString() =>
        $"{SeedVariable}={Seed} {IterationsVariable}={Iterations} {ParallelVariable}={Parallel}";

    /// <summary>A generator for one method: its inputs depend only on the seed and the method, not on what ran before.</summary>
    public Random RandomFor(string name)
    {
        // FNV-1a: string.GetHashCode differs between processes.
        var hash = 2166136261u;
        foreach (var c in name)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return new Random(Seed ^ (int)hash);
    }

    private static int Positive(string variable, int fallback)
    {
        var text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new InvalidOperationException($"{variable} must be a positive integer, got '{text}'");
    }
}
