using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Orchestrations.Tests.Model;

public sealed class StateTransitionsTests
{
    private static readonly HashSet<(SandboxState, SandboxState)> KataTable =
    [
        (SandboxState.Ready, SandboxState.Running),
        (SandboxState.Ready, SandboxState.Stopped),
        (SandboxState.Running, SandboxState.Paused),
        (SandboxState.Running, SandboxState.Stopped),
        (SandboxState.Paused, SandboxState.Running),
        (SandboxState.Paused, SandboxState.Stopped),
        (SandboxState.Stopped, SandboxState.Running),
    ];

    public static TheoryData<SandboxState, SandboxState> EveryPair()
    {
        var data = new TheoryData<SandboxState, SandboxState>();
        foreach (var from in Enum.GetValues<SandboxState>())
        {
            foreach (var to in Enum.GetValues<SandboxState>())
            {
                data.Add(from, to);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EveryPair))]
    public void Every_pair_follows_Katas_table(SandboxState from, SandboxState to)
    {
        Assert.Equal(KataTable.Contains((from, to)), StateTransitions.IsAllowed(from, to));
    }

    [Theory]
    [MemberData(nameof(EveryPair))]
    public void Validate_accepts_the_table_and_refuses_the_rest_with_Katas_prefix(SandboxState from, SandboxState to)
    {
        if (KataTable.Contains((from, to)))
        {
            StateTransitions.Validate("sandbox sb1", from, to);
            return;
        }

        var ex = Assert.Throws<InvalidStateTransitionException>(() => StateTransitions.Validate("sandbox sb1", from, to));
        Assert.StartsWith($"Can not move from {StateTransitions.Name(from)} to {StateTransitions.Name(to)}", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("(sandbox sb1)", ex.Message, StringComparison.Ordinal);
        Assert.Equal(from, ex.Current);
        Assert.Equal(to, ex.Requested);
        Assert.Equal("sandbox sb1", ex.Subject);
    }

    [Theory]
    [MemberData(nameof(EveryPair))]
    public void A_current_state_other_than_the_expected_one_is_refused_first(SandboxState current, SandboxState expected)
    {
        if (current == expected)
        {
            return;
        }

        // Even when current -> Stopped is in the table, the expected state is checked before the move.
        var ex = Assert.Throws<InvalidStateTransitionException>(() => StateTransitions.Validate("container c1", current, expected, SandboxState.Stopped));
        Assert.StartsWith($"Invalid state {StateTransitions.Name(current)} (Expecting {StateTransitions.Name(expected)})", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void State_names_are_Katas_lower_case_strings()
    {
        Assert.Equal(["ready", "running", "paused", "stopped"], Enum.GetValues<SandboxState>().Select(StateTransitions.Name));
    }

    [Fact]
    public void A_refused_transition_is_a_non_retriable_sandbox_error()
    {
        var ex = Assert.Throws<InvalidStateTransitionException>(() => StateTransitions.Validate("sandbox sb1", SandboxState.Ready, SandboxState.Paused));
        Assert.IsAssignableFrom<SandboxException>(ex);
        Assert.IsAssignableFrom<KataWorkflows.Engine.INonRetriable>(ex);
    }
}
