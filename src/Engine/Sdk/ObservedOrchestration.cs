using System.Reflection;
using Core = DurableTask.Core;
using CoreCommand = DurableTask.Core.Command;

namespace KataWorkflows.Engine.Sdk;

/// <summary>
/// The SDK's orchestration shim, watched: it tells when the orchestrator function itself has returned or thrown.
/// DurableTask.Core completes an orchestration only once no task it started is open (a source comment there asks for
/// "a setting that allows orchestrations to complete when the orchestrator function completes, even if there are
/// open tasks"), so code that gives up on a hung activity after a timer (<c>Task.WhenAny(call, timer)</c>) would
/// wait for that activity forever. The runner completes such an orchestration when its function completes, as this
/// engine always did (<see cref="SdkOrchestrationRunner"/>).
/// </summary>
internal sealed class ObservedOrchestration(Core.TaskOrchestration inner) : Core.TaskOrchestration
{
    /// <summary>The orchestrator function's task, once Core has started it.</summary>
    public Task<string>? Function { get; private set; }

    private Core.OrchestrationContext? Context { get; set; }

    public override Task<string> Execute(Core.OrchestrationContext context, string input)
    {
        Context = context;
        return Function = inner.Execute(context, input);
    }

    public override string GetStatus() => inner.GetStatus();

    public override void RaiseEvent(Core.OrchestrationContext context, string name, string input) => inner.RaiseEvent(context, name, input);

    /// <summary>
    /// The completion Core held back: the function ended, Core produced no completion (tasks are still open), and
    /// the code did not ask to continue as new (that one stays Core's to finish, with its carried-over events).
    /// </summary>
    public CoreCommand.OrchestrationCompleteOrchestratorAction? HeldBackCompletion()
    {
        if (Function is not { IsCompleted: true } function || ContinuesAsNew())
        {
            return null;
        }

        if (function.IsCompletedSuccessfully)
        {
            return new CoreCommand.OrchestrationCompleteOrchestratorAction
            {
                Id = -1,
                OrchestrationStatus = Core.OrchestrationStatus.Completed,
                Result = function.Result,
            };
        }

        var exception = function.Exception?.InnerException ?? new TaskCanceledException(function);
        var failure = new Core.FailureDetails(exception);
        return new CoreCommand.OrchestrationCompleteOrchestratorAction
        {
            Id = -1,
            OrchestrationStatus = Core.OrchestrationStatus.Failed,
            Result = failure.ErrorMessage,
            FailureDetails = failure,
        };
    }

    /// <summary>Core keeps a continue-as-new request in a private field of its context until the orchestration completes.</summary>
    private bool ContinuesAsNew()
    {
        if (Context is null)
        {
            return false;
        }

        for (var type = Context.GetType(); type is not null && type != typeof(object); type = type.BaseType)
        {
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly))
            {
                if (typeof(CoreCommand.OrchestrationCompleteOrchestratorAction).IsAssignableFrom(field.FieldType) && field.GetValue(Context) is not null)
                {
                    return true;
                }
            }
        }

        return false;
    }
}
