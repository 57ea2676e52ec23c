using System.Text.Json;
using KataWorkflows.Activities.Agents.Noop;
using KataWorkflows.Activities.Drivers;
using KataWorkflows.Activities.Hypervisors.Mock;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Sdk;
using KataWorkflows.Engine.Serialization;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;
using KataWorkflows.Storage.Sqlite;
using HistoryEvent = Microsoft.DurableTask.Protobuf.HistoryEvent;

namespace KataWorkflows.Chaos.Tests;

/// <summary>One broken invariant: its name, what it is about, what was seen, and at which check.</summary>
internal sealed record Violation(string Kind, string Subject, string Detail, string At)
{
    public override string ToString() => $"{Kind}: {Subject}: {Detail} [{At}]";
}

/// <summary>
/// The soak's invariants, checked while no host runs, from what lasts: the SQLite store (runs, histories, sandbox
/// entities), the run root (<c>sbs/&lt;id&gt;</c>) and the mock drivers' files (VMs, guests).
/// <list type="bullet">
/// <item><c>run-not-ended</c> (final check): every run the store accepted has ended.</item>
/// <item><c>run-failed-oddly</c>: a run failed with an error the sandbox code never raises (a bug, not an outcome).</item>
/// <item><c>acknowledged-run-missing</c> (final check): a run the host named to a client is in the store.</item>
/// <item><c>lock-held-after-run-ended</c>: an entity is still locked by a run that ended, at the final check or at two checks in a row.</item>
/// <item><c>bad-transition</c>: every record a run wrote moves the sandbox and its containers along Kata's transition table.</item>
/// <item><c>replay-diverged</c>: every ended run's history replays deterministically against the current code.</item>
/// <item><c>leaked-vm</c>, <c>leaked-guest-container</c>, <c>leaked-run-directory</c>: nothing the drivers or the run root hold without a record.</item>
/// <item><c>vm-missing</c>, <c>vm-mismatch</c>, <c>guest-missing</c>, <c>guest-container-missing</c>, <c>run-directory-missing</c>,
/// <c>pending-operation-left</c>: a record without a cleanup reason matches what the drivers and the run root hold
/// (a persist.json that lags the record is counted, not a violation: see <see cref="StalePersistedCopies"/>).</item>
/// </list>
/// A sandbox whose entity is locked has a run in flight, so its record is not compared (every one is at the final check).
/// A guest is compared only while its VM runs: a guest does not outlive its VM.
/// </summary>
internal sealed class InvariantChecker(SoakLayout layout)
{
    private readonly HashSet<string> _checkedRuns = new(StringComparer.Ordinal);
    private readonly SdkOrchestrationRunner _replayer = SdkOrchestrationRunner.ForReplay(new Microsoft.DurableTask.DurableTaskRegistry().AddSandboxOrchestrations());
    private Dictionary<string, string> _endedHolders = new(StringComparer.Ordinal);

    public int Checks { get; private set; }

    public int RunsReplayed => _checkedRuns.Count;

    public Dictionary<string, int> RunOutcomes { get; } = new(StringComparer.Ordinal);

    public int SandboxesMarkedForCleanup { get; private set; }

    public int SandboxesDeferred { get; private set; }

    /// <summary>Run directories whose persist.json lagged the record, at any check.</summary>
    public HashSet<string> StalePersistedCopies { get; } = new(StringComparer.Ordinal);

    /// <summary>Runs every check over what the dead host left.</summary>
    /// <param name="at">Which check this is, for the violations.</param>
    /// <param name="final">The last check: nothing may be in flight.</param>
    /// <param name="served">The life before this check served for a while, so a lock release queued at the previous check had its chance.</param>
    /// <param name="acknowledged">The runs the host named to a client.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    public async Task<IReadOnlyList<Violation>> CheckAsync(string at, bool final, bool served, IReadOnlyDictionary<string, string> acknowledged, CancellationToken cancellationToken)
    {
        var violations = new List<Violation>();
        void Violate(string kind, string subject, string detail) => violations.Add(new Violation(kind, subject, detail, at));
        bool Check(bool holds, string kind, string subject, Func<string> detail)
        {
            Checks++;
            if (!holds)
            {
                Violate(kind, subject, detail());
            }

            return holds;
        }

        await using var store = SqliteOrchestrationStore.Create(new SqliteStoreOptions { Path = layout.Database });
        await store.StartAsync(cancellationToken);
        var runs = await AllRunsAsync(store, cancellationToken);
        var entities = await AllSandboxEntitiesAsync(store, cancellationToken);

        foreach (var run in runs.Values)
        {
            if (!run.IsTerminal)
            {
                Check(!final, "run-not-ended", run.InstanceId, () => $"{run.Status} (created {run.CreatedAt:HH:mm:ss.fff}, last updated {run.LastUpdatedAt:HH:mm:ss.fff})");
                continue;
            }

            if (!_checkedRuns.Add(run.InstanceId))
            {
                continue;
            }

            var outcome = Outcome(run);
            RunOutcomes[outcome] = RunOutcomes.GetValueOrDefault(outcome) + 1;
            Check(outcome != "odd", "run-failed-oddly", run.InstanceId, () => $"{run.FailureDetails?.ErrorType}: {run.FailureDetails?.ErrorMessage}");
            var history = await store.GetHistoryAsync(run.InstanceId, executionId: null, cancellationToken);
            CheckTransitions(run.InstanceId, history, Check);
            var replay = _replayer.Replay(history);
            Check(replay.IsDeterministic, "replay-diverged", run.InstanceId, replay.ToString);
        }

        if (final)
        {
            foreach (var (instanceId, call) in acknowledged)
            {
                Check(runs.ContainsKey(instanceId), "acknowledged-run-missing", instanceId, () => $"the host named this {call} run to a client, and the store does not have it");
            }
        }

        var endedHolders = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (sandboxId, entity) in entities)
        {
            if (entity.LockedBy is not { } holder)
            {
                continue;
            }

            var ended = !runs.TryGetValue(holder, out var holding) || holding.IsTerminal;
            if (ended)
            {
                endedHolders[sandboxId] = holder;
            }

            // A release the run sent may still be in the entity's queue when the host dies; it must be applied in the next life.
            Check(
                !ended || (!final && (!served || _endedHolders.GetValueOrDefault(sandboxId) != holder)),
                "lock-held-after-run-ended",
                sandboxId,
                () => $"locked by {holder}, which {(holding is null ? "does not exist" : $"ended {holding.Status}")}{(final ? string.Empty : " (at this check and the one before)")}");
        }

        _endedHolders = endedHolders;
        CheckSandboxes(entities, final, Check);
        return violations;
    }

    private static string Outcome(OrchestrationMetadata run)
    {
        if (run.Status == OrchestrationRuntimeStatus.Completed)
        {
            return "completed";
        }

        var type = run.FailureDetails?.ErrorType ?? string.Empty;
        return type switch
        {
            _ when run.Status != OrchestrationRuntimeStatus.Failed => run.Status.ToString().ToLowerInvariant(),
            _ when type == typeof(SandboxOperationCompensatedException).FullName => "compensated",
            _ when type == typeof(SandboxCleanupRequiredException).FullName => "cleanup-required",
            _ when type.StartsWith("KataWorkflows.Orchestrations.Model.", StringComparison.Ordinal) => "refused",

            // A step that failed and was not undone by the call (its failure propagates as the task's failure).
            _ when type.EndsWith("TaskFailedException", StringComparison.Ordinal) || type == typeof(TimeoutException).FullName => "failed",
            _ => "odd",
        };
    }

    /// <summary>The records a run read and wrote, in order: each write moves the sandbox and its containers along the table.</summary>
    private static void CheckTransitions(string instanceId, IReadOnlyList<HistoryEvent> history, Func<bool, string, string, Func<string>, bool> check)
    {
        var operations = new Dictionary<string, string>(StringComparer.Ordinal);
        SandboxRecord? previous = null;
        var read = false;
        foreach (var e in history)
        {
            if (e.EntityOperationCalled is { } called)
            {
                operations[called.RequestId] = called.Operation;
                if (called.Operation == SandboxEntity.PutOperation)
                {
                    var next = DataConverter.Default.Deserialize<SandboxRecord>(called.Input);
                    CheckMove(instanceId, previous, next!, check);
                    previous = next;
                }
                else if (called.Operation == SandboxEntity.DeleteOperation)
                {
                    previous = null;
                }
            }
            else if (e.EntityOperationCompleted is { } completed && !read && operations.GetValueOrDefault(completed.RequestId) == SandboxEntity.GetOperation)
            {
                previous = DataConverter.Default.Deserialize<SandboxRecord>(completed.Output);
                read = true;
            }
        }
    }

    private static void CheckMove(string instanceId, SandboxRecord? from, SandboxRecord to, Func<bool, string, string, Func<string>, bool> check)
    {
        if (from is null)
        {
            check(to.State == SandboxState.Ready && to.Containers.All(c => c.State == SandboxState.Ready), "bad-transition", instanceId,
                () => $"a new record of {to.Id} is {to.State} with containers [{string.Join(", ", to.Containers.Select(c => $"{c.Id}={c.State}"))}], not ready");
            return;
        }

        check(Allowed(from.State, to.State), "bad-transition", instanceId, () => $"sandbox {to.Id}: {from.State} -> {to.State}");
        foreach (var container in to.Containers)
        {
            if (from.FindContainer(container.Id) is { } before)
            {
                check(Allowed(before.State, container.State), "bad-transition", instanceId, () => $"container {to.Id}/{container.Id}: {before.State} -> {container.State}");
            }
            else
            {
                check(container.State is SandboxState.Ready or SandboxState.Running, "bad-transition", instanceId, () => $"container {to.Id}/{container.Id} appears {container.State}");
            }
        }
    }

    private static bool Allowed(SandboxState from, SandboxState to) => from == to || StateTransitions.IsAllowed(from, to);

    private void CheckSandboxes(IReadOnlyDictionary<string, EntityMetadata> entities, bool final, Func<bool, string, string, Func<string>, bool> check)
    {
        var vms = new DriverStateFiles<Orchestrations.Model.VmState>(Path.Combine(layout.Drivers, MockHypervisor.StateSubdirectory)).ReadAll();
        var guests = new DriverStateFiles<NoopGuestState>(Path.Combine(layout.Drivers, NoopAgent.StateSubdirectory)).ReadAll();
        var sbs = Path.Combine(layout.RunRoot, "sbs");
        var directories = Directory.Exists(sbs) ? Directory.EnumerateDirectories(sbs).Select(Path.GetFileName).OfType<string>().ToHashSet(StringComparer.Ordinal) : [];
        var ids = entities.Keys.Concat(vms.Keys).Concat(guests.Keys).Concat(directories).ToHashSet(StringComparer.Ordinal);
        foreach (var id in ids.Order(StringComparer.Ordinal))
        {
            var entity = entities.GetValueOrDefault(id);
            if (entity?.LockedBy is not null)
            {
                SandboxesDeferred++;
                continue;
            }

            var record = DataConverter.Default.Deserialize<SandboxRecord>(entity?.SerializedState);
            var vm = vms.GetValueOrDefault(id);
            var guest = vm is null ? null : guests.GetValueOrDefault(id);
            var directory = directories.Contains(id);
            if (record is null)
            {
                check(vm is null, "leaked-vm", id, () => $"the mock hypervisor runs VM {vm!.Uuid} and there is no record");
                check(guest is not { Containers.Count: > 0 }, "leaked-guest-container", id, () => $"the guest runs [{string.Join(", ", guest!.Containers.Select(c => c.Id))}] and there is no record");
                check(!directory, "leaked-run-directory", id, () => $"{Path.Combine(sbs, id)} exists and there is no record");
                continue;
            }

            if (record.CleanupReason is not null)
            {
                // Allowed to differ from the drivers: a failed undo left it, and the record says so.
                check(record.CleanupReason.Length > 0, "cleanup-without-reason", id, () => "marked for cleanup with an empty reason");
                SandboxesMarkedForCleanup += final ? 1 : 0;
                continue;
            }

            check(record.PendingOperation is null, "pending-operation-left", id, () => $"the record still names {record.PendingOperation} as in progress, and no run holds the lock");
            if (check((record.Vm is null) == (vm is null), record.Vm is null ? "leaked-vm" : "vm-missing", id,
                () => record.Vm is null ? $"the record ({record.State}) has no VM and the mock hypervisor runs {vm!.Uuid}" : $"the record ({record.State}) names VM {record.Vm.Uuid}, which does not run")
                && vm is not null)
            {
                check(vm.Uuid == record.Vm!.Uuid && vm.Paused == record.Vm.Paused, "vm-mismatch", id,
                    () => $"the record has VM {record.Vm!.Uuid} paused={record.Vm.Paused}, the hypervisor {vm.Uuid} paused={vm.Paused}");
                if (check(guest is not null, "guest-missing", id, () => "the VM runs without a guest sandbox"))
                {
                    var inGuest = guest!.Containers.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
                    foreach (var extra in inGuest.Where(c => record.FindContainer(c) is null))
                    {
                        check(false, "leaked-guest-container", $"{id}/{extra}", () => $"the guest runs it and the record ({string.Join(", ", record.Containers.Select(c => c.Id))}) does not have it");
                    }

                    foreach (var ready in record.Containers.Where(c => c.State == SandboxState.Ready))
                    {
                        check(inGuest.Contains(ready.Id), "guest-container-missing", $"{id}/{ready.Id}", () => "the record has it ready and the guest does not");
                    }
                }
            }

            if (check(directory, "run-directory-missing", id, () => $"the record ({record.State}) exists and {Path.Combine(sbs, id)} does not"))
            {
                CheckPersisted(record, Path.Combine(sbs, id));
            }
        }
    }

    /// <summary>
    /// Counts a run directory whose <c>persist.json</c> (or container directories) lags the record: not a violation, as the
    /// design keeps the entity as the truth and rewrites the copy at the next storeSandbox (a call whose storeSandbox
    /// failed still saves the record that says what happened), but worth reporting.
    /// </summary>
    private void CheckPersisted(SandboxRecord record, string directory)
    {
        var file = Path.Combine(directory, "persist.json");
        string? state = null;
        if (File.Exists(file))
        {
            using var document = JsonDocument.Parse(File.ReadAllText(file));
            state = document.RootElement.GetProperty("state").GetString();
        }

        var containers = Directory.EnumerateDirectories(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        var recorded = record.Containers.Select(c => c.Id).Order(StringComparer.Ordinal).ToList();
        if (state != StateTransitions.Name(record.State) || !containers.SequenceEqual(recorded))
        {
            StalePersistedCopies.Add($"{record.Id}: persist.json {state ?? "missing"} [{string.Join(", ", containers)}], record {StateTransitions.Name(record.State)} [{string.Join(", ", recorded)}]");
        }
    }

    private static async Task<Dictionary<string, OrchestrationMetadata>> AllRunsAsync(OrchestrationStore store, CancellationToken cancellationToken)
    {
        var runs = new Dictionary<string, OrchestrationMetadata>(StringComparer.Ordinal);
        string? token = null;
        do
        {
            var page = await store.QueryInstancesAsync(new OrchestrationQuery { PageSize = OrchestrationQuery.MaxPageSize, ContinuationToken = token }, cancellationToken);
            foreach (var run in page.Instances)
            {
                runs[run.InstanceId] = run;
            }

            token = page.ContinuationToken;
        }
        while (token is not null);
        return runs;
    }

    private static async Task<Dictionary<string, EntityMetadata>> AllSandboxEntitiesAsync(OrchestrationStore store, CancellationToken cancellationToken)
    {
        var entities = new Dictionary<string, EntityMetadata>(StringComparer.Ordinal);
        string? token = null;
        do
        {
            var page = await store.QueryEntitiesAsync(
                new EntityListQuery { InstanceIdStartsWith = $"@{SandboxEntity.Name}@", IncludeState = true, IncludeTransient = true, PageSize = 500, ContinuationToken = token },
                cancellationToken);
            foreach (var entity in page.Entities)
            {
                entities[entity.Id.Key] = entity;
            }

            token = page.ContinuationToken;
        }
        while (token is not null);
        return entities;
    }
}
