using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Tests.Harness;
using static KataWorkflows.Orchestrations.Model.SandboxState;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

/// <summary>
/// Kata's sandbox operations (virtcontainers <c>sandbox.go</c>, reference/kata.md §1.3) in each of the four states, with
/// the outcome written out per row: the state after the call, or the exact refusal. Where this host differs from Kata on
/// purpose (docs/sandbox-lifecycle.md), the row says so.
/// </summary>
public sealed class KataSandboxTableTests
{
    public static TheoryData<string, SandboxState, SandboxState?, string?> Rows => new()
    {
        // Start: ValidTransition(cur, running); ready and stopped start. Paused -> running is Resume's (deviation).
        { Ops.StartSandbox, Ready, Running, null },
        { Ops.StartSandbox, Running, null, "Can not move from running to running (sandbox sb1)" },
        { Ops.StartSandbox, Paused, null, "Sandbox not ready or stopped, impossible to start (sandbox sb1 is paused)" },
        { Ops.StartSandbox, Stopped, Running, null },

        // Stop(force): a stopped sandbox is a no-op; any other state stops.
        { Ops.StopSandbox, Ready, Stopped, null },
        { Ops.StopSandbox, Running, Stopped, null },
        { Ops.StopSandbox, Paused, Stopped, null },
        { Ops.StopSandbox, Stopped, Stopped, null },

        // Delete: ready, paused or stopped (a VM still up is stopped first: deviation). Null: the record is gone.
        { Ops.DeleteSandbox, Ready, null, null },
        { Ops.DeleteSandbox, Running, null, "Sandbox not ready, paused or stopped, impossible to delete (sandbox sb1 is running)" },
        { Ops.DeleteSandbox, Paused, null, null },
        { Ops.DeleteSandbox, Stopped, null, null },

        // Pause/Resume (Kata <= 1.9 did not check the transition: deviation) with ValidTransition's messages.
        { Ops.PauseSandbox, Ready, null, "Invalid state ready (Expecting running) (sandbox sb1)" },
        { Ops.PauseSandbox, Running, Paused, null },
        { Ops.PauseSandbox, Paused, null, "Invalid state paused (Expecting running) (sandbox sb1)" },
        { Ops.PauseSandbox, Stopped, null, "Invalid state stopped (Expecting running) (sandbox sb1)" },
        { Ops.ResumeSandbox, Ready, null, "Invalid state ready (Expecting paused) (sandbox sb1)" },
        { Ops.ResumeSandbox, Running, null, "Invalid state running (Expecting paused) (sandbox sb1)" },
        { Ops.ResumeSandbox, Paused, Running, null },
        { Ops.ResumeSandbox, Stopped, null, "Invalid state stopped (Expecting paused) (sandbox sb1)" },

        // CreateContainer: refused up front unless the VM is there to take it (deviation: Kata fails at the agent).
        { Ops.CreateContainer, Ready, Ready, null },
        { Ops.CreateContainer, Running, Running, null },
        { Ops.CreateContainer, Paused, null, "Sandbox not ready or running, impossible to create a container (sandbox sb1 is paused)" },
        { Ops.CreateContainer, Stopped, null, "Sandbox not ready or running, impossible to create a container (sandbox sb1 is stopped)" },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task A_sandbox_call_in_each_state_moves_it_as_the_table_says_or_is_refused_with_Katas_message(
        string operation, SandboxState state, SandboxState? after, string? refusal)
    {
        await using var h = await SandboxHarness.StartAsync();
        var before = await h.ArrangeAsync("sb1", "c1", state, state);
        var calls = h.Calls.All.Count;
        var request = operation == Ops.CreateContainer ? TestSandboxes.NewContainer("sb1", "c2") : TestSandboxes.Sandbox("sb1");

        if (refusal is not null)
        {
            var ex = await h.CallFailsAsync(operation, request);

            Assert.Equal((SandboxErrorKind.FailedPrecondition, refusal), (ex.Kind, ex.Message));
            Assert.Equal(before, await h.RequireRecordAsync("sb1"), SandboxRecordComparer.Instance);
            Assert.Equal(calls, h.Calls.All.Count);
            return;
        }

        var result = await h.CallAsync(operation, request);

        if (after is null)
        {
            Assert.Null(result.Sandbox);
            await h.AssertNothingLeftAsync("sb1");
            return;
        }

        Assert.Equal(after, (await h.RequireRecordAsync("sb1")).State);
        if (operation == Ops.StopSandbox && state == Stopped)
        {
            Assert.Equal("Sandbox sb1 is already stopped: nothing to do", result.Note);
            Assert.Equal(calls, h.Calls.All.Count);
        }
        else
        {
            Assert.Null(result.Note);
        }
    }
}
