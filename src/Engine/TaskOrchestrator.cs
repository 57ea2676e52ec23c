namespace KataWorkflows.Engine;

/// <summary>An orchestrator as the engine sees it: untyped input and output.</summary>
public interface ITaskOrchestrator
{
    /// <summary>The type the JSON input is read as.</summary>
    Type InputType { get; }

    /// <summary>Runs the orchestration code. Must be deterministic: only the context may reach the outside world.</summary>
    Task<object?> RunAsync(TaskOrchestrationContext context, object? input);
}

/// <summary>
/// Base class for orchestrators. The code runs again from the start on every replay, so it must use only the
/// <see cref="TaskOrchestrationContext"/> for time, ids, waits and side effects.
/// </summary>
/// <typeparam name="TInput">The input type.</typeparam>
/// <typeparam name="TOutput">The output type.</typeparam>
public abstract class TaskOrchestrator<TInput, TOutput> : ITaskOrchestrator
{
    /// <inheritdoc />
    public Type InputType => typeof(TInput);

    /// <summary>The orchestration code.</summary>
    public abstract Task<TOutput> RunAsync(TaskOrchestrationContext context, TInput input);

#pragma warning disable CA2007 // Orchestration code continues on the replay context.
    async Task<object?> ITaskOrchestrator.RunAsync(TaskOrchestrationContext context, object? input) =>
        await RunAsync(context, input is null ? default! : (TInput)input);
#pragma warning restore CA2007
}

/// <summary>An activity as the engine sees it: untyped input and output.</summary>
public interface ITaskActivity
{
    /// <summary>The type the JSON input is read as.</summary>
    Type InputType { get; }

    /// <summary>Runs the activity. Activities run at least once, so they must be idempotent.</summary>
    Task<object?> RunAsync(TaskActivityContext context, object? input);
}

/// <summary>
/// Base class for activities: the steps of an orchestration that touch the outside world. An activity may run
/// more than once for one scheduled task (a crash between its side effect and its checkpoint), so it must be
/// idempotent.
/// </summary>
/// <typeparam name="TInput">The input type.</typeparam>
/// <typeparam name="TOutput">The output type.</typeparam>
public abstract class TaskActivity<TInput, TOutput> : ITaskActivity
{
    /// <inheritdoc />
    public Type InputType => typeof(TInput);

    /// <summary>The activity code.</summary>
    public abstract Task<TOutput> RunAsync(TaskActivityContext context, TInput input);

    async Task<object?> ITaskActivity.RunAsync(TaskActivityContext context, object? input) =>
        await RunAsync(context, input is null ? default! : (TInput)input).ConfigureAwait(false);
}

/// <summary>What an activity knows about the task it runs for.</summary>
public sealed class TaskActivityContext
{
    /// <summary>Creates a context.</summary>
    public TaskActivityContext(string name, string instanceId, int taskId, CancellationToken cancellationToken)
    {
        Name = name;
        InstanceId = instanceId;
        TaskId = taskId;
        CancellationToken = cancellationToken;
    }

    /// <summary>The activity name.</summary>
    public string Name { get; }

    /// <summary>The orchestration instance that scheduled it.</summary>
    public string InstanceId { get; }

    /// <summary>The task's sequence number in that orchestration's history.</summary>
    public int TaskId { get; }

    /// <summary>Fires when the host shuts down; the task is then run again later.</summary>
    public CancellationToken CancellationToken { get; }
}
