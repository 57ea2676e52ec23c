using System.Text.Json;
using KataWorkflows.Bench.Benchmarks;
using KataWorkflows.Bench.Cli;
using KataWorkflows.Bench.Harness;

namespace KataWorkflows.Bench;

/// <summary>
/// <c>bench COMMAND --option value...</c>: runs one benchmark and prints its result as exactly one JSON line on
/// stdout; progress goes to stderr. Exit codes: 0 done, 1 the run failed, 2 bad command line, 130 interrupted.
/// </summary>
internal static class Program
{
    private static readonly IBenchmarkCommand[] Commands = [new EngineBenchmark(), new EntityLockBenchmark(), new LifecycleBenchmark(), new GuestBenchmark(), .. OperatingSystem.IsLinux() ? [new ConsoleBenchmark()] : Array.Empty<IBenchmarkCommand>()];

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            (args.Length == 0 ? Console.Error : Console.Out).Write(GeneralUsage());
            return args.Length == 0 ? 2 : 0;
        }

        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            Console.Error.WriteLine($"bench: unknown benchmark '{args[0]}' (known: {string.Join(", ", Commands.Select(c => c.Name))})");
            return 2;
        }

        var rest = args[1..];
        if (rest.Any(a => a is "-h" or "--help"))
        {
            Console.Out.WriteLine($"usage: bench {command.Name} [options]\n{command.Summary}\n\n{command.Usage}");
            return 0;
        }

#if DEBUG
        Console.Error.WriteLine("warning: this is a Debug build; run with -c Release for numbers worth recording");
#endif
        using var interrupt = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            interrupt.Cancel();
        };

        try
        {
            var result = await command.RunAsync(rest, interrupt.Token);
            Console.Out.WriteLine(JsonSerializer.Serialize(result, result.GetType(), BenchJsonContext.Default));
            return 0;
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine($"bench {command.Name}: {ex.Message}");
            Console.Error.WriteLine($"run 'bench {command.Name} --help' for the options");
            return 2;
        }
        catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
        {
            Console.Error.WriteLine($"bench {command.Name}: interrupted");
            return 130;
        }
        catch (BenchmarkFailedException ex)
        {
            Console.Error.WriteLine($"bench {command.Name}: FAILED: {ex.Message}");
            if (ex.InnerException is not null)
            {
                Console.Error.WriteLine(ex.InnerException);
            }

            return 1;
        }
    }

    private static string GeneralUsage() =>
        "usage: bench COMMAND [options]   (dotnet run -c Release --project bench -- COMMAND ...)\n\ncommands:\n"
        + string.Concat(Commands.Select(c => $"  {c.Name,-12} {c.Summary}\n"))
        + "\n'bench COMMAND --help' lists a command's options. The result is one JSON line on stdout; progress goes to stderr.\n";
}
