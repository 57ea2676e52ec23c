using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Tests.Harness;
using static KataWorkflows.Orchestrations.Model.SandboxState;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

/// <summary>
/// Kata's container operation table (virtcontainers <c>container.go</c>, reference/kata.md §1.3), row by row, against
/// every pair of sandbox and container states a client can reach: a call whose sandbox or container is in the wrong
/// state is refused with Kata's message (the sandbox is checked first) and changes nothing; any other is carried out.
/// </summary>
public sealed class KataContainerTableTests
{
    /// <summary>The process list and stats reads, which are no orchestration: the host asks the agent after these checks.</summary>
    private const string ProcessList = "ProcessListContainer";

    private const string Stats = "StatsContainer";

    /// <summary>One row: the states the call needs (null: any), Kata's message when they do not hold, and the container's state after it.</summary>
    private sealed record Row(
        string Operation, SandboxState[]? Sandbox, string? SandboxMessage, SandboxState[]? Container, string? ContainerMessage, SandboxState? After);

    private static readonly Row[] Table =
    [
        new(Ops.StartContainer, [Running], "Sandbox not running, impossible to start the container", [Ready, Stopped], "Container not ready or stopped, impossible to start", Running),
        new(Ops.StopContainer, null, null, null, null, Stopped),
        new(Ops.DeleteContainer, null, null, [Ready, Stopped], "Container not ready or stopped, impossible to delete", null),
        new(Ops.KillContainer, [Ready, Running], "Sandbox not ready or running, impossible to signal the container", [Ready, Running, Paused], "Container not ready, running or paused, impossible to signal the container", null),
        new(Ops.EnterContainer, [Running], "Sandbox not running, impossible to enter the container", [Ready, Running], "Container not ready or running, impossible to enter", null),
        new(Ops.UpdateContainer, [Running], "Sandbox not running, impossible to update the container", [Running, Ready], "Container not running or ready, impossible to update", null),
        new(Ops.PauseContainer, [Running], "Sandbox not running, impossible to pause the container", [Running], "Container not running, impossible to pause", Paused),
        new(Ops.ResumeContainer, [Running], "Sandbox not running, impossible to resume the container", [Paused], "Container not paused, impossible to resume", Running),
        new(ProcessList, [Running], "Sandbox not running, impossible to ps the container", [Running], "Container not running, impossible to list processes", null),
        new(Stats, [Running], "Sandbox not running, impossible to stats the container", null, null, null),
    ];

    /// <summary>Every pair of states a sandbox and its container can be in.</summary>
    public static readonly (SandboxState Sandbox, SandboxState Container)[] ReachableStates =
    [
        (Ready, Ready), (Ready, Stopped),
        (Running, Ready), (Running, Running), (Running, Paused), (Running, Stopped),
        (Paused, Ready), (Paused, Paused), (Paused, Stopped),
        (Stopped, Stopped),
    ];

    public static TheoryData<string, SandboxState, SandboxState> EveryRowInEveryState()
    {
        var data = new TheoryData<string, SandboxState, SandboxState>();
        foreach (var row in Table)
        {
            foreach (var (sandbox, container) in ReachableStates)
            {
                data.Add(row.Operation, sandbox, container);
            }
        }

        return data;
    }

    public static TheoryData<SandboxState, SandboxState> EveryState()
    {
        var data = new TheoryData<SandboxState, SandboxState>();
        foreach (var (sandbox, container) in ReachableStates)
        {
            data.Add(sandbox, container);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EveryRowInEveryState))]
    public async Task A_container_call_is_refused_with_Katas_message_exactly_when_a_state_is_wrong(string operation, SandboxState sandboxState, SandboxState containerState)
    {
        var row = Table.Single(r => r.Operation == operation);
        await using var h = await SandboxHarness.StartAsync();
        var before = await h.ArrangeAsync("sb1", "c1", sandboxState, containerState);
        var calls = h.Calls.All.Count;

        var expected = row.Sandbox is { } sandboxAllowed && !sandboxAllowed.Contains(sandboxState)
            ? $"{row.SandboxMessage} (sandbox sb1 is {StateTransitions.Name(sandboxState)})"
            : row.Container is { } containerAllowed && !containerAllowed.Contains(containerState)
                ? $"{row.ContainerMessage} (container c1 is {StateTransitions.Name(containerState)})"
                : null;
        var refused = await CallAsync(h, operation);

        if (expected is not null)
        {
            Assert.NotNull(refused);
            Assert.Equal((SandboxErrorKind.FailedPrecondition, expected), (refused.Kind, refused.Message));
            Assert.Equal(before, await h.RequireRecordAsync("sb1"), SandboxRecordComparer.Instance);
            Assert.Equal(calls, h.Calls.All.Count);
            return;
        }

        Assert.Null(refused);
        var after = (await h.RequireRecordAsync("sb1")).FindContainer("c1");
        if (operation == Ops.DeleteContainer)
        {
            Assert.Null(after);
            Assert.DoesNotContain("c1", h.Agent.ContainersOf("sb1"));
        }
        else
        {
            Assert.Equal(row.After ?? containerState, after!.State);
        }

        Assert.Equal(sandboxState, (await h.RequireRecordAsync("sb1")).State);
    }

    [Theory]
    [MemberData(nameof(EveryState))]
    public async Task SIGKILL_never_fails_it_signals_what_can_be_signalled_and_is_a_noted_no_op_otherwise(SandboxState sandboxState, SandboxState containerState)
    {
        await using var h = await SandboxHarness.StartAsync();
        var before = await h.ArrangeAsync("sb1", "c1", sandboxState, containerState);
        var calls = h.Calls.All.Count;
        var signalled = sandboxState is Ready or Running && containerState is Ready or Running or Paused;

        var result = await h.CallAsync(Ops.KillContainer, TestSandboxes.Container("sb1", "c1") with { Signal = 9, All = true });

        if (signalled)
        {
            Assert.Null(result.Note);
            Assert.Equal(["agent.signalProcess sb1 c1 9 all=True"], h.Calls.All.Skip(calls));
        }
        else
        {
            var why = sandboxState is Ready or Running
                ? $"Container not ready, running or paused, impossible to signal the container (container c1 is {StateTransitions.Name(containerState)})"
                : $"Sandbox not ready or running, impossible to signal the container (sandbox sb1 is {StateTransitions.Name(sandboxState)})";
            Assert.Equal($"SIGKILL not sent: {why}", result.Note);
            Assert.Equal(calls, h.Calls.All.Count);
        }

        // A signal changes no state, and the run's output (its last history event) carries the note.
        Assert.Equal(before, await h.RequireRecordAsync("sb1"), SandboxRecordComparer.Instance);
        var history = await h.HistoryAsync((await h.InstancesAsync()).Single(i => i.Name == Ops.KillContainer).InstanceId);
        var completed = history.Single(e => e.ExecutionCompleted is not null).ExecutionCompleted;
        Assert.Equal(result.Note, Engine.Serialization.DataConverter.Default.Deserialize<Orchestrations.Sandboxes.SandboxOperationResult>(completed.Result)!.Note);
    }

    private static async Task<SandboxCallException?> CallAsync(SandboxHarness h, string operation)
    {
        try
        {
            switch (operation)
            {
                case ProcessList:
                    await h.Sandboxes.ProcessListTargetAsync("sb1", "c1", h.Token);
                    break;
                case Stats:
                    await h.Sandboxes.StatsContainerTargetAsync("sb1", "c1", h.Token);
                    break;
                default:
                    await h.CallAsync(operation, TestSandboxes.ValidRequest(operation, "sb1", "c1"));
                    break;
            }

            return null;
        }
        catch (SandboxCallException ex)
        {
            return ex;
        }
    }
}
