using KataWorkflows.Bench.Cli;

namespace KataWorkflows.Bench.Harness;

/// <summary>
/// The warm-up every benchmark runs before it measures: at least <see cref="Minimum"/> operations, and on until
/// <see cref="Duration"/> has passed. The host is a long-running service, so what counts is its steady state: right
/// after start the JIT is still compiling the hot paths and tiering them up (with dynamic PGO, for tens of seconds
/// under load), and a run measured then measures the compiler.
/// </summary>
internal sealed record BenchWarmup(int Minimum, TimeSpan Duration)
{
    /// <summary>The option names, for a command's list of accepted options.</summary>
    public static readonly string[] OptionNames = ["--warmup", "--warmup-seconds"];

    /// <summary>The default time the warm-up goes on for.</summary>
    public const int DefaultSeconds = 20;

    /// <summary>The usage lines of the options.</summary>
    public static string Usage(string unit, int defaultMinimum) =>
        $"""
          --warmup W                 {unit} run first and not measured, at least (default min({defaultMinimum}, N))
          --warmup-seconds S         ...and the warm-up goes on until S seconds have passed (default {DefaultSeconds}; 0 for none)
        """;

    /// <summary>Reads the options.</summary>
    public static BenchWarmup From(BenchArguments args, int defaultMinimum)
    {
        ArgumentNullException.ThrowIfNull(args);
        return new BenchWarmup(args.NonNegativeInt("--warmup", defaultMinimum), TimeSpan.FromSeconds(args.NonNegativeInt("--warmup-seconds", DefaultSeconds)));
    }

    /// <summary>Runs the warm-up.</summary>
    public Task<(int Completed, TimeSpan Elapsed)> RunAsync(string label, int concurrency, Func<int, CancellationToken, Task> operation, CancellationToken cancellationToken) =>
        ClosedLoop.WarmUpAsync(label, Minimum, Duration, concurrency, operation, cancellationToken);

    /// <summary>How the warm-up is described on stderr.</summary>
    public override string ToString() => $"a warm-up of at least {Minimum} and {Duration.TotalSeconds:0} s";
}
