namespace KataWorkflows.Bench.Cli;

/// <summary>One benchmark, run as <c>bench NAME --option value...</c>.</summary>
internal interface IBenchmarkCommand
{
    /// <summary>The command name on the command line.</summary>
    string Name { get; }

    /// <summary>One line for the command list.</summary>
    string Summary { get; }

    /// <summary>The options, one per line, for <c>--help</c>.</summary>
    string Usage { get; }

    /// <summary>
    /// Parses <paramref name="args"/> (throwing <see cref="UsageException"/>), runs the benchmark and returns the
    /// result object that is printed as the one JSON line on stdout.
    /// </summary>
    Task<object> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken);
}
