using System.Text.Json;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Serialization;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;
using KataWorkflows.Storage.Sqlite;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Sandbox.Process.Tests;

/// <summary>
/// Runs one crash case: a host that dies by SIGKILL at the case's step boundary, a host restarted on the same store
/// without the kill that waits for the same run, and the checks of what they left: the store (run, history, sandbox
/// entity) and the run directory. The mock drivers lived in the killed process, so leaks are judged by what lasts.
/// </summary>
public static class CrashRunner
{
    /// <summary>The sandbox every case works on.</summary>
    public const string SandboxId = "sb1";

    /// <summary>The container every case's sandbox has.</summary>
    public const string ContainerId = "c1";

    private const int SigKillExitCode = 128 + 9;
    private const string RequestId = "r1";

    // Each undo step and the step it undoes: once a compensated run is over, every completed step has its undo completed after it.
    private static readonly (string Step, string Undo)[] UndoOf =
    [
        (SandboxActivities.CreateNetwork, SandboxActivities.RemoveNetwork),
        (SandboxActivities.StartVm, SandboxActivities.StopVm),
        (SandboxActivities.CreateContainers, SandboxActivities.DeleteContainers),
        (SandboxActivities.StartContainer, SandboxActivities.StopContainer),
        (SandboxActivities.StoreSandbox, SandboxActivities.RemoveSandboxStore),
    ];

    /// <summary>The arguments that start a case's call.</summary>
    public static string[] CallArguments(string call, string requestId) => call == SandboxOrchestrations.CleanupContainer
        ? ["--call", call, "--sandbox", SandboxId, "--request-id", requestId, "--container", ContainerId]
        : ["--call", call, "--sandbox", SandboxId, "--request-id", requestId, "--containers", ContainerId];

    /// <summary>Runs a case in a directory of its own, starting from a copy of <paramref name="template"/> when given.</summary>
    public static async Task RunAsync(CrashCase crash, string? template = null)
    {
        ArgumentNullException.ThrowIfNull(crash);
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        budget.CancelAfter(TimeSpan.FromSeconds(90));
        var directory = Directory.CreateTempSubdirectory("kwf-sandbox-crash-").FullName;
        try
        {
            if (template is not null)
            {
                CopyDirectory(template, directory);
            }

            var db = Path.Combine(directory, "store.db");
            var runRoot = Path.Combine(directory, "run");
            var instanceId = $"{crash.Call}:{SandboxId}:{RequestId}";
            string[] store = ["--db", db, "--run-root", runRoot];

            using (var first = HostProcess.Start([.. store, .. CallArguments(crash.Call, RequestId), .. crash.KillArguments()]))
            {
                var lines = await first.WaitForExitAsync(budget.Token);
                Assert.True(first.ExitCode == SigKillExitCode, $"{crash}: the first host exited with {first.ExitCode} instead of dying by SIGKILL.\n{first.Output}");
                Assert.Equal(["ready", $"started {instanceId}"], lines);
            }

            // It died where it was meant to: the step's run was taken and its result never recorded, and nothing else is open.
            await using (var opened = await OpenAsync(db, budget.Token))
            {
                var history = await opened.GetHistoryAsync(instanceId, executionId: null, budget.Token);
                Assert.Equal([crash.Step], OpenTasks(history));
                Assert.Equal(crash.Occurrence, history.Count(e => e.TaskScheduled?.Name == crash.Step));
            }

            using (var second = HostProcess.Start([.. store, "--wait-for", instanceId, .. crash.FailureArguments()]))
            {
                var lines = await second.WaitForExitAsync(budget.Token);
                var expected = crash.Compensated ? "compensated" : "completed";
                Assert.True(lines.Contains(expected), $"{crash}: the restarted host printed [{string.Join(", ", lines)}], not '{expected}'.\n{second.Output}");
                Assert.Equal(crash.Compensated ? 1 : 0, second.ExitCode);
            }

            await AssertSettledAsync(crash, db, runRoot, instanceId, budget.Token);
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp directory is not worth failing a test over.
            }
        }
    }

    /// <summary>Opens the store a host left (its lock file is free once the host is gone).</summary>
    public static async Task<OrchestrationStore> OpenAsync(string db, CancellationToken cancellationToken)
    {
        var store = SqliteOrchestrationStore.Create(new SqliteStoreOptions { Path = db });
        await store.StartAsync(cancellationToken);
        return store;
    }

    /// <summary>The activities scheduled whose result is not in the history.</summary>
    public static IReadOnlyList<string> OpenTasks(IReadOnlyList<HistoryEvent> history)
    {
        var done = history.Select(e => e.TaskCompleted?.TaskScheduledId ?? e.TaskFailed?.TaskScheduledId).OfType<int>().ToHashSet();
        return [.. history.Where(e => e.TaskScheduled is not null && !done.Contains(e.EventId)).Select(e => e.TaskScheduled.Name)];
    }

    private static async Task AssertSettledAsync(CrashCase crash, string db, string runRoot, string instanceId, CancellationToken cancellationToken)
    {
        await using var store = await OpenAsync(db, cancellationToken);
        var run = await store.GetInstanceAsync(instanceId, includePayloads: true, cancellationToken);
        var history = await store.GetHistoryAsync(instanceId, executionId: null, cancellationToken);
        var entity = await store.GetEntityAsync(SandboxEntity.IdFor(SandboxId), includeState: true, cancellationToken);
        var record = DataConverter.Default.Deserialize<SandboxRecord>(entity?.SerializedState);
        var sandboxDirectory = Path.Combine(runRoot, "sbs", SandboxId);

        Assert.Empty(OpenTasks(history));
        Assert.Null(entity?.LockedBy);

        // The matrix row is the run's real sequence of steps: a step the code gained or lost fails every case of the row.
        string[] scheduled = [.. history.Where(e => e.TaskScheduled is not null).Select(e => e.TaskScheduled.Name)];
        var tail = crash.Compensated ? scheduled[Math.Max(0, scheduled.Length - crash.Steps.Count)..] : scheduled;
        Assert.True(tail.SequenceEqual(crash.Steps), $"{crash}: the run scheduled [{string.Join(", ", scheduled)}]; the matrix row is [{string.Join(", ", crash.Steps)}]");
        Assert.True((record is not null) == Directory.Exists(sandboxDirectory), $"{crash}: the record {(record is null ? "is gone" : "exists")} but the run directory {(Directory.Exists(sandboxDirectory) ? "exists" : "is gone")}");
        var completed = Completed(history);
        if (crash.Compensated)
        {
            Assert.Equal(OrchestrationRuntimeStatus.Failed, run!.Status);
            Assert.Equal(typeof(SandboxOperationCompensatedException).FullName, run.FailureDetails!.ErrorType);
            Assert.Null(record);
            foreach (var (step, undo) in UndoOf)
            {
                var done = completed.FindLastIndex(n => n == step);
                if (done >= 0)
                {
                    Assert.True(
                        completed.FindLastIndex(n => n == undo) > done && completed.Count(n => n == undo) >= completed.Count(n => n == step),
                        $"{crash}: {step} completed but {undo} did not after it (completed: {string.Join(", ", completed)})");
                }
            }

            return;
        }

        Assert.Equal(OrchestrationRuntimeStatus.Completed, run!.Status);
        if (crash.Call == SandboxOrchestrations.CleanupContainer)
        {
            Assert.Null(record);
            return;
        }

        Assert.DoesNotContain(history, e => e.TaskScheduled is { } t && UndoOf.Any(u => u.Undo == t.Name));
        var state = crash.Call == SandboxOrchestrations.RunSandbox ? SandboxState.Running : SandboxState.Ready;
        Assert.NotNull(record);
        Assert.Equal(state, record.State);
        Assert.Equal([(ContainerId, state)], record.Containers.Select(c => (c.Id, c.State)));
        Assert.NotNull(record.Vm);
        Assert.NotNull(record.Network);
        Assert.Null(record.PendingOperation);
        Assert.Null(record.CleanupReason);
        Assert.Equal(StateTransitions.Name(state), PersistedState(Path.Combine(sandboxDirectory, "persist.json")));
        Assert.Equal(StateTransitions.Name(state), PersistedState(Path.Combine(sandboxDirectory, ContainerId, "persist.json")));
    }

    private static List<string> Completed(IReadOnlyList<HistoryEvent> history)
    {
        var names = history.Where(e => e.TaskScheduled is not null).ToDictionary(e => e.EventId, e => e.TaskScheduled.Name);
        return [.. history.Where(e => e.TaskCompleted is not null).Select(e => names[e.TaskCompleted.TaskScheduledId])];
    }

    private static string? PersistedState(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.GetProperty("state").GetString();
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var directory in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, directory)));
        }

        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".lock", StringComparison.Ordinal)))
        {
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
        }
    }
}
