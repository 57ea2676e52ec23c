using System.Diagnostics;
using KataWorkflows.TestSupport;

namespace KataWorkflows.Host.Fuzz.Tests.Harness;

/// <summary>The built kwf binary, run as a person or a script would, against a host's socket.</summary>
internal static class Kwf
{
    /// <summary>A kwf still running after this is killed and counted as a hang.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    public static string Assembly => ChildProcess.BuiltAssembly(typeof(Kwf).Assembly, "KwfAssembly", "KATA_KWF_DLL", "src/Cli");

    public static async Task<KwfRun> RunAsync(string socket, IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var start = ChildProcess.Dotnet(Assembly, args);
        start.Environment["KWF_SOCKET"] = socket;
        foreach (var variable in new[] { "KWF_ADDRESS", "KWF_CA_CERT", "KWF_CERT", "KWF_KEY" })
        {
            start.Environment.Remove(variable);
        }

        var started = Stopwatch.GetTimestamp();
        using var child = ChildProcess.Start(start);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Limit);
        try
        {
            var stdout = await child.WaitForExitAsync(limit.Token);
            return new KwfRun(args, child.ExitCode, string.Join('\n', stdout), child.Stderr, Stopwatch.GetElapsedTime(started), TimedOut: false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await child.KillAsync(CancellationToken.None, entireProcessTree: true);
            return new KwfRun(args, -1, string.Empty, child.Stderr, Stopwatch.GetElapsedTime(started), TimedOut: true);
        }
    }
}

/// <summary>What one run of kwf did.</summary>
internal sealed record KwfRun(IReadOnlyList<string> Args, int Exit, string Out, string Err, TimeSpan Elapsed, bool TimedOut)
{
    public override string ToString()
    {
        var shown = string.Join(' ', Args.Select(a => a.Length > 60 ? a[..60] + $"…({a.Length})" : a));
        var err = Err.Length > 400 ? Err[..400] + "…" : Err;
        return $"kwf {shown} -> exit {Exit} after {Elapsed.TotalMilliseconds:F0} ms; stderr: {err.TrimEnd()}";
    }
}
