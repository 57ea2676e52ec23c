using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;
using KataWorkflows.Orchestrations.Tests.Harness;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

public sealed class ConcurrencyTests
{
    private static readonly SandboxErrorKind[] RefusalKinds = [SandboxErrorKind.FailedPrecondition, SandboxErrorKind.NotFound, SandboxErrorKind.AlreadyExists];

    [Fact]
    public async Task A_hundred_concurrent_calls_on_one_sandbox_are_serialized_and_every_recorded_transition_is_valid()
    {
        await using var h = await SandboxHarness.StartAsync(o => o.Timeout = TimeSpan.FromSeconds(120));
        var setup = await h.Sandboxes.StartAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c0", "c1", "c2"), "setup", h.Token);
        await h.Sandboxes.WaitAsync(setup, h.Token);
        var random = new Random(20240611);
        var calls = Enumerable.Range(0, 100).Select(i => NextCall(random, i)).ToList();

        var outcomes = await Task.WhenAll(calls.Select(call => Task.Run(async () =>
        {
            var instanceId = await h.Sandboxes.StartAsync(call.Operation, call.Request, call.RequestId, h.Token);
            try
            {
                return (Call: call, InstanceId: instanceId, Result: await h.Sandboxes.WaitAsync(instanceId, h.Token), Error: (SandboxCallException?)null);
            }
            catch (SandboxCallException ex)
            {
                return (Call: call, InstanceId: instanceId, Result: (SandboxOperationResult?)null, Error: ex);
            }
        })));

        // Only refusals: nothing failed half-way.
        Assert.All(outcomes.Where(o => o.Error is not null), o => Assert.Contains(o.Error!.Kind, RefusalKinds));

        // Serialized: the activities of one call never interleave with another's (each call holds the lock throughout).
        var log = h.Log.Events;
        var segments = log.Select(e => e.InstanceId).Aggregate(new List<string>(), (list, id) =>
        {
            if (list.Count == 0 || list[^1] != id)
            {
                list.Add(id);
            }

            return list;
        });
        Assert.Equal(segments.Distinct().Count(), segments.Count);

        // The record grew one call at a time: every call that wrote it is in Operations once, in the order of the locks.
        var record = await h.RequireRecordAsync("sb1");
        var writers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var instance in outcomes.Select(o => o.InstanceId).Append(setup))
        {
            if ((await h.HistoryAsync(instance)).EntityCalls().Contains(SandboxEntity.PutOperation))
            {
                writers.Add(instance);
            }
        }

        // The mix is random and its interleaving is not fixed (about 20 of the 100 calls change the record; the rest are
        // refused by the state they find): enough writes to make the transition checks below mean something.
        Assert.True(writers.Count >= 10, $"only {writers.Count} calls wrote the record ({outcomes.Count(o => o.Error is null)} of 100 succeeded)");
        Assert.Equal(record.Operations.Count, record.Operations.Distinct().Count());
        Assert.Equal(writers.Order(StringComparer.Ordinal), record.Operations.Order(StringComparer.Ordinal));
        Assert.Equal(segments.Where(writers.Contains), record.Operations);

        // Every transition between consecutive records is in Kata's table, for the sandbox and for each container.
        var results = outcomes.Where(o => o.Result is not null).ToDictionary(o => o.InstanceId, o => o.Result!.Sandbox!);
        results[setup] = (await h.Sandboxes.WaitAsync(setup, h.Token)).Sandbox!;
        SandboxStatus? previous = null;
        foreach (var op in record.Operations)
        {
            var status = results[op];
            if (previous is not null)
            {
                AssertMove($"sandbox ({op})", previous.State, status.State);
                foreach (var container in status.Containers)
                {
                    var before = previous.Containers.FirstOrDefault(c => c.Id == container.Id);
                    if (before is null)
                    {
                        Assert.Equal(SandboxState.Ready, container.State);
                    }
                    else
                    {
                        AssertMove($"container {container.Id} ({op})", before.State, container.State);
                    }
                }
            }

            previous = status;
        }

        // The final record is what the last call that wrote it returned.
        var last = SandboxStatus.Of(record);
        Assert.Equal((previous!.State, Describe(previous)), (last.State, Describe(last)));
        Assert.Null((await h.UnlockedEntityAsync("sb1"))!.LockedBy);
        Assert.Equal(StateTransitions.Name(record.State), (await h.Files.ReadAsync("sb1", h.Token))!.State);
        Assert.True(h.Hypervisor.TryGetVm("sb1", out var vm));
        Assert.Equal(record.State == SandboxState.Paused, vm.Paused);
    }

    [Fact]
    public async Task Two_hundred_sandboxes_created_and_deleted_in_parallel_do_not_interfere()
    {
        await using var h = await SandboxHarness.StartAsync(o =>
        {
            o.Sqlite = true;
            o.Timeout = TimeSpan.FromSeconds(180);
        });
        var ids = Enumerable.Range(0, 200).Select(i => $"par-{i:D3}").ToList();

        var results = await Task.WhenAll(ids.Select(id => Task.Run(async () =>
        {
            var created = await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create(id, "c1"), "create");
            var deleted = await h.CallAsync(Ops.DeleteSandbox, TestSandboxes.Sandbox(id), "delete");
            return (id, created, deleted);
        })));

        Assert.All(results, r =>
        {
            Assert.Equal(r.id, r.created.Sandbox!.Id);
            Assert.Equal(SandboxState.Ready, r.created.Sandbox.State);
            Assert.Null(r.deleted.Sandbox);
        });
        var instances = await h.InstancesAsync();
        Assert.Equal(400, instances.Count);
        Assert.All(instances, i => Assert.Equal(KataWorkflows.Engine.OrchestrationRuntimeStatus.Completed, i.Status));
        Assert.Empty(h.Hypervisor.RunningVms);
        Assert.Empty(h.Agent.Sandboxes);
        Assert.Empty(await h.Sandboxes.ListAsync(h.Token));
        Assert.False(Directory.Exists(Path.Combine(h.RunRoot, "sbs")) && Directory.EnumerateFileSystemEntries(Path.Combine(h.RunRoot, "sbs")).Any());
        foreach (var id in ids)
        {
            await h.AssertNothingLeftAsync(id);
        }

        // Each sandbox saw exactly its own VM start and stop.
        Assert.All(ids, id => Assert.Equal(["hypervisor.startVM " + id, "hypervisor.stopVM " + id], h.Calls.Of(id).Where(c => c.StartsWith("hypervisor.", StringComparison.Ordinal))));
    }

    private static void AssertMove(string subject, SandboxState from, SandboxState to) =>
        Assert.True(from == to || StateTransitions.IsAllowed(from, to), $"{subject} moved from {from} to {to}, which Kata's table does not allow");

    private static string Describe(SandboxStatus status) => string.Join(",", status.Containers.Select(c => $"{c.Id}={c.State}"));

    private static Call NextCall(Random random, int index)
    {
        var container = $"c{random.Next(0, 6)}";
        var requestId = $"call-{index:D3}";
        return random.Next(10) switch
        {
            0 => new(Ops.PauseSandbox, TestSandboxes.Sandbox("sb1"), requestId),
            1 => new(Ops.ResumeSandbox, TestSandboxes.Sandbox("sb1"), requestId),
            2 => new(Ops.CreateContainer, TestSandboxes.NewContainer("sb1", container), requestId),
            3 => new(Ops.StartContainer, TestSandboxes.Container("sb1", container), requestId),
            4 => new(Ops.StopContainer, TestSandboxes.Container("sb1", container), requestId),
            5 => new(Ops.DeleteContainer, TestSandboxes.Container("sb1", container), requestId),
            6 => new(Ops.KillContainer, TestSandboxes.Container("sb1", container) with { Signal = 15 }, requestId),
            7 => new(Ops.PauseContainer, TestSandboxes.Container("sb1", container), requestId),
            8 => new(Ops.ResumeContainer, TestSandboxes.Container("sb1", container), requestId),
            _ => new(Ops.UpdateContainer, TestSandboxes.Container("sb1", container) with { Resources = new ContainerResources { CpuQuota = 1000 * (index + 1) } }, requestId),
        };
    }

    private sealed record Call(string Operation, SandboxRequest Request, string RequestId);
}
