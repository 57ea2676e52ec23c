namespace KataWorkflows.Engine.Tests.Replay;

/// <summary>
/// The orchestrations whose recorded histories are checked in under <c>Histories/</c>. Changing what one of them
/// does (which activities, timers, sub-orchestrations or waits, in which order) breaks the replay of its file:
/// that is the point of the replay tests.
/// </summary>
public static class ReplayOrchestrations
{
    /// <summary>Activities in sequence with a durable timer between them.</summary>
    public const string ActivityChain = "ReplayActivityChain";

    /// <summary>A sub-orchestration, then an external event, then an activity.</summary>
    public const string Approval = "ReplayApproval";

    /// <summary>Fans out activities in parallel and sums their results (the child of <see cref="Approval"/>).</summary>
    public const string FanOut = "ReplayFanOut";

    /// <summary>The event <see cref="Approval"/> waits for.</summary>
    public const string ApprovalEvent = "approval";

    /// <summary>Registers the orchestrations and their activities as they are today.</summary>
    public static void Register(DurableTaskRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        RegisterActivities(registry);
        registry.AddOrchestratorFunc<string, string>(ActivityChain, async (ctx, input) =>
        {
            var upper = await ctx.CallActivityAsync<string>("Upper", input);
            var reversed = await ctx.CallActivityAsync<string>("Reverse", upper);
            await ctx.CreateTimer(TimeSpan.FromMilliseconds(50), CancellationToken.None);
            return await ctx.CallActivityAsync<string>("Suffix", reversed);
        });
        registry.AddOrchestratorFunc<int, string>(Approval, async (ctx, count) =>
        {
            var total = await ctx.CallSubOrchestratorAsync<int>(FanOut, count);
            ctx.SetCustomStatus("awaiting approval");
            var approver = await ctx.WaitForExternalEvent<string>(ApprovalEvent);
            await ctx.CallActivityAsync("Notify", $"{approver}:{total}");
            return $"{approver} approved {total}";
        });
        registry.AddOrchestratorFunc<int, int>(FanOut, async (ctx, count) =>
        {
            var squares = await Task.WhenAll(Enumerable.Range(1, count).Select(i => ctx.CallActivityAsync<int>("Square", i)));
            return squares.Sum();
        });
    }

    /// <summary>
    /// Registers <see cref="ActivityChain"/> as a later, incompatible version: its second step calls a different
    /// activity ("Shuffle" instead of "Reverse").
    /// </summary>
    public static void RegisterChangedChain(DurableTaskRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        RegisterActivities(registry);
        registry.AddOrchestratorFunc<string, string>(ActivityChain, async (ctx, input) =>
        {
            var upper = await ctx.CallActivityAsync<string>("Upper", input);
            var shuffled = await ctx.CallActivityAsync<string>("Shuffle", upper);
            await ctx.CreateTimer(TimeSpan.FromMilliseconds(50), CancellationToken.None);
            return await ctx.CallActivityAsync<string>("Suffix", shuffled);
        });
    }

    private static void RegisterActivities(DurableTaskRegistry registry)
    {
        registry.AddActivityFunc<string, string>("Upper", (ctx, s) => Task.FromResult(s.ToUpperInvariant()));
        registry.AddActivityFunc<string, string>("Reverse", (ctx, s) => Task.FromResult(new string([.. s.Reverse()])));
        registry.AddActivityFunc<string, string>("Shuffle", (ctx, s) => Task.FromResult(new string([.. s.Order()])));
        registry.AddActivityFunc<string, string>("Suffix", (ctx, s) => Task.FromResult(s + "!"));
        registry.AddActivityFunc<int, int>("Square", (ctx, i) => Task.FromResult(i * i));
        registry.AddActivityFunc<string, string>("Notify", (ctx, s) => Task.FromResult(s));
    }
}
