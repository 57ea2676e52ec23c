using System.Diagnostics;
using System.Globalization;
using System.Text;
using Grpc.Core;
using KataWorkflows.Protocol.V1;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Chaos.Tests;

/// <summary>
/// The chaos soak: clients make random sandbox calls over the real host's Unix socket while the host is killed with
/// SIGKILL at random moments and restarted on the same store, with random fault rules in each life; the invariants are
/// checked after every kill and once more after a last life without faults, in which every accepted run must end.
/// </summary>
public sealed class ChaosSoakTests
{
    [Fact]
    public async Task Random_calls_through_SIGKILLs_and_injected_faults_break_no_invariant()
    {
        var settings = SoakSettings.FromEnvironment();
        var output = TestContext.Current.TestOutputHelper!;
        output.WriteLine($"chaos soak: {settings}");
        var report = await new ChaosSoak(settings, output.WriteLine).RunAsync(TestContext.Current.CancellationToken);
        output.WriteLine(report.Summary);
        if (Environment.GetEnvironmentVariable("KATA_SOAK_REPORT") is { Length: > 0 } path)
        {
            await File.WriteAllTextAsync(path, $"{settings}\n{report.Summary}\n", TestContext.Current.CancellationToken);
        }

        Assert.True(report.Violations.Count == 0, $"{report.Violations.Count} invariant violations (re-run with KATA_SOAK_SEED={settings.Seed}):\n{string.Join('\n', report.Violations.Take(50))}\n{report.Summary}");
    }
}

/// <summary>What a soak did and found.</summary>
internal sealed record SoakReport(IReadOnlyList<Violation> Violations, string Summary);

/// <summary>The soak's loop: host lives, clients, kills, checks.</summary>
internal sealed class ChaosSoak(SoakSettings settings, Action<string> log)
{
    private readonly Random _rng = new(settings.Seed);
    private readonly ClientLedger _ledger = new();
    private readonly List<Violation> _violations = [];
    private readonly IReadOnlyList<string> _sandboxes = Enumerable.Range(0, settings.Sandboxes).Select(i => string.Create(CultureInfo.InvariantCulture, $"sb-{i:00}")).ToList();
    private int _faults;
    private int _kills;
    private int _selfKills;

    public async Task<SoakReport> RunAsync(CancellationToken cancellationToken)
    {
        var layout = SoakLayout.Create();
        var checker = new InvariantChecker(layout);
        var clock = Stopwatch.StartNew();
        try
        {
            var perLife = settings.Duration / settings.Kills;
            for (var life = 0; life < settings.Kills; life++)
            {
                var faults = FaultPlan.Next(_rng, _sandboxes, settings.AfterFaults);
                faults = settings.Faults ?? faults;
                var length = perLife * (0.5 + _rng.NextDouble());
                var served = await LiveAndDieAsync(layout, life, faults, length, cancellationToken);
                var found = await checker.CheckAsync($"after kill {life + 1}", final: false, served, _ledger.Acknowledged, cancellationToken);
                Report(found, $"after kill {life + 1}");
            }

            var drained = await DrainAsync(layout, settings.Kills, cancellationToken);
            var final = await checker.CheckAsync("final", final: true, served: true, _ledger.Acknowledged, cancellationToken);
            Report(final, "final");
            var unexpected = _ledger.Unexpected.Select(u => u.Call).ToList();
            foreach (var call in unexpected)
            {
                _violations.Add(new Violation("unexpected-reply", "client", call, "during the soak"));
            }

            var summary = new StringBuilder()
                .AppendLine(CultureInfo.InvariantCulture, $"seed {settings.Seed}: {clock.Elapsed.TotalSeconds:0} s, {settings.Kills + 1} host lives, {_kills} SIGKILLs ({_selfKills} by a kill fault), {_faults} faults injected")
                .AppendLine(CultureInfo.InvariantCulture, $"calls {_ledger.Calls} ({_ledger.Mutations} mutating, {_ledger.Acknowledged.Count} runs acknowledged); runs ended {checker.RunsReplayed}: {string.Join(", ", checker.RunOutcomes.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key} {o.Value}"))}")
                .AppendLine(CultureInfo.InvariantCulture, $"drain: every run ended {drained.TotalSeconds:0.0} s after the last restart (bound {settings.DrainBound.TotalSeconds:0} s); sandboxes marked for cleanup at the end: {checker.SandboxesMarkedForCleanup}; sandbox checks deferred (run in flight at a kill): {checker.SandboxesDeferred}")
                .AppendLine(CultureInfo.InvariantCulture, $"persist.json copies that lagged their record at a check (not violations): {checker.StalePersistedCopies.Count}{(checker.StalePersistedCopies.Count == 0 ? string.Empty : ": " + string.Join("; ", checker.StalePersistedCopies.Take(10)))}")
                .AppendLine(CultureInfo.InvariantCulture, $"invariant checks {checker.Checks}, violations {_violations.Count}")
                .Append(CultureInfo.InvariantCulture, $"replies: {string.Join(", ", _ledger.Outcomes.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key} {o.Value}"))}")
                .ToString();
            return new SoakReport(_violations, summary);
        }
        finally
        {
            if (settings.Keep)
            {
                log($"kept {layout.Root}");
            }
            else
            {
                try
                {
                    Directory.Delete(layout.Root, recursive: true);
                }
                catch (IOException)
                {
                    // Left to the temp cleaner.
                }
            }
        }
    }

    private void Report(IReadOnlyList<Violation> found, string at)
    {
        _violations.AddRange(found);
        log($"check {at}: {found.Count} violations{(found.Count == 0 ? string.Empty : ":\n  " + string.Join("\n  ", found.Take(20)))}");
    }

    /// <summary>
    /// One host life with faults: clients call until the kill (at <paramref name="length"/>, or when a kill fault strikes
    /// first). Returns whether the host served for a few seconds (a kill fault can end a life before it answers).
    /// </summary>
    private async Task<bool> LiveAndDieAsync(SoakLayout layout, int life, string faults, TimeSpan length, CancellationToken cancellationToken)
    {
        using var host = await SoakHost.StartAsync(layout, faults, cancellationToken);
        log($"life {life + 1}: faults {faults}; SIGKILL in {length.TotalSeconds:0.0} s");
        var dying = false;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var clients = StartClients(host, life, () => Volatile.Read(ref dying) || host.HasExited, stop.Token);
        using var exitWatch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var exited = host.WaitForExitAsync(exitWatch.Token);
        var lived = Stopwatch.StartNew();
        var first = await Task.WhenAny(exited, Task.Delay(length, cancellationToken));
        var served = lived.Elapsed >= TimeSpan.FromSeconds(3);
        Volatile.Write(ref dying, true);
        var self = first == exited && host.HasExited;
        await host.KillAsync(cancellationToken);
        await exitWatch.CancelAsync();
        await stop.CancelAsync();
        await Task.WhenAll(clients);
        _kills++;
        if (self)
        {
            // A kill fault struck: the connection errors the clients saw before the exit was noticed are the kill's.
            _selfKills++;
            log($"life {life + 1}: the host killed itself (exit {host.ExitCode})");
        }

        var injected = host.FaultsInjected();
        _faults += injected;
        var lost = _ledger.Unexpected.Where(u => u.Life == life && self && u.Code is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Cancelled).ToList();
        if (lost.Count > 0)
        {
            var keep = _ledger.Unexpected.Where(u => !lost.Contains(u)).ToList();
            _ledger.Unexpected.Clear();
            foreach (var u in keep)
            {
                _ledger.Unexpected.Enqueue(u);
            }
        }

        log($"life {life + 1}: {injected} faults injected, {_ledger.Calls} calls so far");
        return served;
    }

    private List<Task> StartClients(SoakHost host, int life, Func<bool> dying, CancellationToken cancellationToken)
    {
        var client = new Sandboxes.SandboxesClient(host.Channel);
        return Enumerable.Range(0, settings.Clients)
            .Select(n => new ChaosClient(n, life, new Random(HashCode.Combine(settings.Seed, life, n)), client, _sandboxes, _ledger, dying))
            .Select(c => Task.Run(() => c.RunAsync(cancellationToken), CancellationToken.None))
            .ToList();
    }

    /// <summary>The last life, without faults or clients: every run the store holds must end within the bound, and every lock be released.</summary>
    private async Task<TimeSpan> DrainAsync(SoakLayout layout, int life, CancellationToken cancellationToken)
    {
        using var host = await SoakHost.StartAsync(layout, string.Empty, cancellationToken);
        var clock = Stopwatch.StartNew();
        log($"life {life + 1}: no faults, no clients; waiting for every run to end (bound {settings.DrainBound.TotalSeconds:0} s)");
        var sidecar = new TaskHubSidecarService.TaskHubSidecarServiceClient(host.Channel);
        var deadline = DateTime.UtcNow + settings.DrainBound;
        try
        {
            while (true)
            {
                var open = await sidecar.QueryInstancesAsync(
                    new QueryInstancesRequest
                    {
                        Query = new InstanceQuery
                        {
                            MaxInstanceCount = 1000,
                            RuntimeStatus = { OrchestrationStatus.Running, OrchestrationStatus.Pending, OrchestrationStatus.Suspended },
                        },
                    },
                    deadline: deadline,
                    cancellationToken: cancellationToken);
                if (open.OrchestrationState.Count == 0)
                {
                    break;
                }

                foreach (var run in open.OrchestrationState)
                {
                    await sidecar.WaitForInstanceCompletionAsync(new GetInstanceRequest { InstanceId = run.InstanceId }, deadline: deadline, cancellationToken: cancellationToken);
                }
            }

            var ended = clock.Elapsed;

            // A run's lock release may travel through the entity's queue after the run ended: wait for the queues to empty.
            while (true)
            {
                var locked = await sidecar.QueryEntitiesAsync(
                    new QueryEntitiesRequest { Query = new EntityQuery { InstanceIdStartsWith = "@sandbox@", IncludeTransient = true, PageSize = 1000 } },
                    deadline: deadline,
                    cancellationToken: cancellationToken);
                if (locked.Entities.All(e => e.LockedBy is null && e.BacklogQueueSize == 0))
                {
                    break;
                }

                await Task.Delay(100, cancellationToken);
            }

            return ended;
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.DeadlineExceeded)
        {
            // The final check names the runs that did not end.
            log($"life {life + 1}: not every run ended within {settings.DrainBound.TotalSeconds:0} s of the last restart");
            return clock.Elapsed;
        }
        finally
        {
            await host.KillAsync(cancellationToken);
            _kills++;
        }
    }
}
