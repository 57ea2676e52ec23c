using System.Diagnostics;
using System.Text;

namespace KataWorkflows.RealSandbox.Tests.Harness;

/// <summary>What a finished command printed and returned.</summary>
public sealed record RunResult(string Command, int Exit, string Stdout, string Stderr)
{
    /// <inheritdoc />
    public override string ToString() => $"$ {Command}\nexit {Exit}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>Runs a command from an argument list (never a shell) and waits for it within a limit.</summary>
public static class Run
{
    /// <summary>Runs <paramref name="program"/> and returns what it did; a command past <paramref name="limit"/> is killed and fails the test.</summary>
    public static async Task<RunResult> CommandAsync(string program, IEnumerable<string> arguments, TimeSpan? limit = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var shown = $"{program} {string.Join(' ', start.ArgumentList)}";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{shown} did not start");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        budget.CancelAfter(limit ?? TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(budget.Token);
            return new RunResult(shown, process.ExitCode, await stdout, await stderr);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{shown} did not finish within {limit ?? TimeSpan.FromMinutes(3)}");
        }
    }

    /// <summary>Runs a command that must succeed and returns its stdout.</summary>
    public static async Task<string> CheckedAsync(string program, params string[] arguments)
    {
        var result = await CommandAsync(program, arguments);
        return result.Exit == 0 ? result.Stdout : throw new InvalidOperationException($"failed:\n{result}");
    }

    /// <summary>
    /// Awaits a condition: checks it at once, then after each short pause, until it holds or the limit passes (a
    /// guest's state is observed from outside, so there is no event to wait for).
    /// </summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T?>> probe, TimeSpan limit, string what)
        where T : class
    {
        var watch = Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            if (watch.Elapsed > limit)
            {
                throw new TimeoutException($"{what}: not seen within {limit}");
            }

            await Task.Delay(pause, TestContext.Current.CancellationToken);
            pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 500));
        }
    }

    /// <summary>Text cut for a message.</summary>
    public static string Cut(string text, int max = 4000) => text.Length <= max ? text : text[..max] + "…";

    /// <summary>The UTF-8 of a string (for sizes).</summary>
    public static int Bytes(string text) => Encoding.UTF8.GetByteCount(text);
}
