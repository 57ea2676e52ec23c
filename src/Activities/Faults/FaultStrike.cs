namespace KataWorkflows.Activities.Faults;

/// <summary>A fault rule that struck: which rule, at which step, sandbox and point, and its how-manieth strike.</summary>
/// <param name="Rule">The rule that struck.</param>
/// <param name="Step">The activity it struck in.</param>
/// <param name="SandboxId">The sandbox the activity was for, if it names one.</param>
/// <param name="Point">Before or after the activity's work.</param>
/// <param name="Occurrence">How many times the rule has matched in this process, this one included.</param>
public sealed record FaultStrike(FaultRule Rule, string Step, string? SandboxId, FaultPoint Point, int Occurrence);
