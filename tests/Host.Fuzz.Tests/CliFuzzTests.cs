using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using KataWorkflows.Host.Fuzz.Tests.Harness;

namespace KataWorkflows.Host.Fuzz.Tests;

/// <summary>
/// The built kwf binary, run against the real host with bad arguments and bad config files: it exits with a
/// documented code (docs/cli.md) and a message naming what is wrong, never a stack trace, never a hang; what was
/// stored before is intact.
/// </summary>
public sealed partial class CliFuzzTests
{
    [Fact]
    public async Task Kwf_answers_bad_arguments_and_config_files_with_its_documented_codes_and_a_message_naming_them()
    {
        var settings = FuzzSettings.FromEnvironment();
        var ct = TestContext.Current.CancellationToken;
        await using var host = await FuzzHost.StartAsync(ct);
        var seeded = await SeededStore.CreateAsync(host, ct);
        var before = await seeded.CaptureAsync(host, ct);
        var files = Directory.CreateDirectory(Path.Combine(host.Directory, "files")).FullName;
        var cases = new CliCases(settings.RandomFor("kwf"), files).Make(settings.Iterations);

        var violations = new ConcurrentQueue<string>();
        var exits = new ConcurrentDictionary<int, int>();
        var slowest = TimeSpan.Zero;
        await Parallel.ForEachAsync(
            cases.Select((c, i) => (Case: c, Index: i)),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Min(settings.Parallel, 2), CancellationToken = ct },
            async (item, token) =>
            {
                var run = await Kwf.RunAsync(host.Socket, item.Case.Args, token);
                exits.AddOrUpdate(run.Exit, 1, (_, n) => n + 1);
                lock (violations)
                {
                    slowest = run.Elapsed > slowest ? run.Elapsed : slowest;
                }

                if (Judge(item.Case, run) is { } violation)
                {
                    violations.Enqueue($"case #{item.Index} {item.Case.Kind}: {violation}\n  {run}");
                }
            });

        var unhealthy = await host.CheckHealthAsync(ct);
        var differences = host.HasExited ? ["the host exited"] : SeededStore.Differences(before, await seeded.CaptureAsync(host, ct));
        ApiFuzzTests.Report(string.Join('\n', [
            $"CLI fuzz of kwf: {settings}",
            $"{cases.Count} command lines ({string.Join(", ", cases.GroupBy(c => c.Kind.Split(' ')[0]).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"))}), slowest {slowest.TotalMilliseconds:F0} ms",
            $"exit codes: {string.Join(' ', exits.OrderBy(e => e.Key).Select(e => $"{e.Key}={e.Value}"))}; {violations.Count} violations; host {(unhealthy ?? "healthy")}; store {(differences.Count == 0 ? "intact" : "changed")}",
            .. violations,
        ]));

        Assert.True(violations.IsEmpty, $"{violations.Count} kwf runs broke an oracle ({settings}):\n" + string.Join('\n', violations.Take(30)));
        Assert.Null(unhealthy);
        Assert.True(differences.Count == 0, "the seeded data changed:\n" + string.Join('\n', differences));
    }

    /// <summary>What is wrong with how kwf ended, or null.</summary>
    private static string? Judge(CliCase c, KwfRun run)
    {
        if (run.TimedOut)
        {
            return $"no exit within {Kwf.Limit.TotalSeconds} s (a hang)";
        }

        if (StackTrace().IsMatch(run.Err) || StackTrace().IsMatch(run.Out))
        {
            return "a stack trace";
        }

        // docs/cli.md: 2 usage or invalid argument, 3 not found, 4 refused, 5 the run failed; 8 only when a --timeout
        // ran out, 6 only when a replay diverged.
        List<int> documented = [0, 2, 3, 4, 5];
        if (c.Kind == "bad-duration")
        {
            documented.Add(8);
        }

        if (c.Kind.StartsWith("replay", StringComparison.Ordinal))
        {
            documented.Add(6);
        }

        if (!documented.Contains(run.Exit))
        {
            return $"exit {run.Exit}, not one of {string.Join(", ", documented)}";
        }

        if (run.Exit == 0)
        {
            return null;
        }

        var message = run.Err.Trim();
        if (message.Length == 0)
        {
            return "no message";
        }

        return run.Exit == 2 && !c.Names.Any(n => n.Length > 0 && message.Contains(n, StringComparison.OrdinalIgnoreCase))
            ? $"a usage error naming none of: {string.Join(", ", c.Names.Select(n => n.Length > 30 ? n[..30] + "…" : n))}"
            : null;
    }

    [GeneratedRegex(@"(^|\n)\s+at [\w.`<>\[\]]+\(|Unhandled exception|--- End of", RegexOptions.CultureInvariant)]
    private static partial Regex StackTrace();
}
