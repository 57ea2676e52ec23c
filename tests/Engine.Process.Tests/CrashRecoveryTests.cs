using System.Globalization;
using KataWorkflows.TestSupport;

namespace KataWorkflows.Engine.Process.Tests;

public sealed class CrashRecoveryTests : IDisposable
{
    private const int SigKillExitCode = 128 + 9;
    private const string InstanceId = "wf1";

    private readonly string _directory = Directory.CreateTempSubdirectory("kata-crash-").FullName;

    private string RunsLog => Path.Combine(_directory, "runs.log");

    private string HangMarker => Path.Combine(_directory, "hang");

    private string Database => Path.Combine(_directory, "store.db");

    [Fact]
    public async Task Host_killed_during_an_activity_is_resumed_by_a_new_process_without_rerunning_completed_activities()
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        budget.CancelAfter(TimeSpan.FromMinutes(2));
        await File.WriteAllTextAsync(HangMarker, string.Empty, budget.Token);

        using var first = HostProcess.Start("--db", Database, "--marker-dir", _directory, "--start", InstanceId);
        await WaitForRunAsync(step: 3, first, budget.Token);
        await first.KillAsync(budget.Token);
        Assert.True(first.HasExited);
        Assert.Equal(SigKillExitCode, first.ExitCode);

        File.Delete(HangMarker);
        using var second = HostProcess.Start("--db", Database, "--marker-dir", _directory);
        using (var completion = CancellationTokenSource.CreateLinkedTokenSource(budget.Token))
        {
            completion.CancelAfter(TimeSpan.FromSeconds(60));
            var line = await second.WaitForLineAsync(l => l.StartsWith("completed ", StringComparison.Ordinal), completion.Token);
            Assert.True(line == "completed Completed", $"The second host printed '{line}'. Its stderr:\n{second.Stderr}");
            await second.WaitForExitAsync(completion.Token);
        }

        Assert.Equal(0, second.ExitCode);
        var runs = ReadRuns();
        Assert.All(runs, r => Assert.Equal(InstanceId, r.Instance));
        Assert.Equal([first.Id], PidsOf(runs, 1));
        Assert.Equal([first.Id], PidsOf(runs, 2));
        Assert.Equal([first.Id, second.Id], PidsOf(runs, 3));
        Assert.Equal([second.Id], PidsOf(runs, 4));
        Assert.Equal([second.Id], PidsOf(runs, 5));
    }

    [Fact]
    public async Task Host_killed_while_an_orchestration_holds_a_lock_resumes_it_still_holding_the_lock_and_releases_it_when_done()
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        budget.CancelAfter(TimeSpan.FromMinutes(2));
        await File.WriteAllTextAsync(HangMarker, string.Empty, budget.Token);

        // Steps 1 and 2 run and add to the counter inside the critical section; step 3 hangs there; then SIGKILL.
        using var first = HostProcess.Start("--db", Database, "--marker-dir", _directory, "--start", InstanceId, "--locked");
        Assert.Equal("entity - -", await first.WaitForLineAsync(l => l.StartsWith("entity ", StringComparison.Ordinal), budget.Token));
        await WaitForRunAsync(step: 3, first, budget.Token);
        await first.KillAsync(budget.Token);
        Assert.Equal(SigKillExitCode, first.ExitCode);

        File.Delete(HangMarker);
        using var second = HostProcess.Start("--db", Database, "--marker-dir", _directory);

        // Before the new worker runs anything, the store still has the lock with its holder and the state of two steps.
        Assert.Equal($"entity {InstanceId} 3", await second.WaitForLineAsync(l => l.StartsWith("entity ", StringComparison.Ordinal), budget.Token));
        using (var completion = CancellationTokenSource.CreateLinkedTokenSource(budget.Token))
        {
            completion.CancelAfter(TimeSpan.FromSeconds(60));
            var line = await second.WaitForLineAsync(l => l.StartsWith("completed ", StringComparison.Ordinal), completion.Token);
            Assert.True(line == "completed Completed", $"The second host printed '{line}'. Its stderr:\n{second.Stderr}");

            // One request, one grant, one release in the whole history: the run resumed inside its critical section
            // instead of asking again, released it at the end, and the counter saw every step exactly once.
            Assert.Equal("locks 1 1 1", await second.WaitForLineAsync(l => l.StartsWith("locks ", StringComparison.Ordinal), completion.Token));
            Assert.Equal("entity - 15", await second.WaitForLineAsync(l => l.StartsWith("entity ", StringComparison.Ordinal), completion.Token));
            await second.WaitForExitAsync(completion.Token);
        }

        Assert.Equal(0, second.ExitCode);
        var runs = ReadRuns();
        Assert.Equal([first.Id], PidsOf(runs, 1));
        Assert.Equal([first.Id], PidsOf(runs, 2));
        Assert.Equal([first.Id, second.Id], PidsOf(runs, 3));
        Assert.Equal([second.Id], PidsOf(runs, 4));
        Assert.Equal([second.Id], PidsOf(runs, 5));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is not worth failing a test over.
        }
    }

    private static int[] PidsOf(List<(string Instance, int Step, int Pid)> runs, int step) =>
        [.. runs.Where(r => r.Step == step).Select(r => r.Pid)];

    /// <summary>Polls the runs log until <paramref name="step"/> has been recorded, failing early if the host died.</summary>
    private async Task WaitForRunAsync(int step, ChildProcess host, CancellationToken cancellationToken)
    {
        while (!ReadRuns().Any(r => r.Step == step))
        {
            if (host.HasExited)
            {
                Assert.Fail($"The crash host exited with {host.ExitCode} before step {step} ran. Its stderr:\n{host.Stderr}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }
    }

    private List<(string Instance, int Step, int Pid)> ReadRuns()
    {
        if (!File.Exists(RunsLog))
        {
            return [];
        }

        using var stream = new FileStream(RunsLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var lines = reader.ReadToEnd().Split('\n');
        var runs = new List<(string, int, int)>();

        // The last piece is empty when the log ends with a newline, and a line still being written otherwise: skip it.
        foreach (var line in lines[..^1])
        {
            var parts = line.Split(' ');
            Assert.True(parts.Length == 3, $"Unexpected runs.log line '{line}'.");
            runs.Add((parts[0], int.Parse(parts[1], CultureInfo.InvariantCulture), int.Parse(parts[2], CultureInfo.InvariantCulture)));
        }

        return runs;
    }
}
