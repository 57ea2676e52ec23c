using Microsoft.Extensions.Logging;

namespace KataWorkflows.Engine;

/// <summary>
/// Everything orchestration code may use to reach the outside world. Each call either replays what history
/// recorded or records a new action; the code must not use clocks, random numbers, threads or I/O of its own.
/// </summary>
public abstract class TaskOrchestrationContext
{
    /// <summary>The instance id.</summary>
    public abstract string InstanceId { get; }

    /// <summary>The orchestrator name this instance runs.</summary>
    public abstract string Name { get; }

    /// <summary>The deterministic current time: the start time of the episode being executed.</summary>
    public abstract DateTime CurrentUtcDateTime { get; }

    /// <summary>True while the code replays events it has already processed in an earlier episode.</summary>
    public abstract bool IsReplaying { get; }

    /// <summary>Schedules an activity and returns its result.</summary>
    /// <exception cref="TaskFailedException">The activity failed (after its retries, if a policy was given).</exception>
    public abstract Task<TResult> CallActivityAsync<TResult>(string name, object? input = null, TaskOptions? options = null);

    /// <summary>Schedules an activity whose result is not needed.</summary>
    public Task CallActivityAsync(string name, object? input = null, TaskOptions? options = null) =>
        CallActivityAsync<object?>(name, input, options);

    /// <summary>A durable timer that fires at <paramref name="fireAt"/> (UTC).</summary>
    public abstract Task CreateTimer(DateTime fireAt, CancellationToken cancellationToken);

    /// <summary>A durable timer that fires after <paramref name="delay"/> from the current orchestration time.</summary>
    public Task CreateTimer(TimeSpan delay, CancellationToken cancellationToken) =>
        CreateTimer(CurrentUtcDateTime.Add(delay), cancellationToken);

    /// <summary>
    /// Waits for an event raised to this instance by name (case-insensitive). An event that arrived before the
    /// wait is delivered at once.
    /// </summary>
    public abstract Task<T> WaitForExternalEvent<T>(string eventName, CancellationToken cancellationToken = default);

    /// <summary>Waits for an event, giving up after <paramref name="timeout"/> with a <see cref="TimeoutException"/>.</summary>
    public async Task<T> WaitForExternalEvent<T>(string eventName, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource();
        var received = WaitForExternalEvent<T>(eventName, cancel.Token);
        var timer = CreateTimer(CurrentUtcDateTime.Add(timeout), cancel.Token);
#pragma warning disable CA2007 // Orchestration code continues on the replay context, never elsewhere.
        var first = await Task.WhenAny(received, timer);
#pragma warning restore CA2007
#pragma warning disable CA1849 // CancelAsync runs callbacks elsewhere; cancellation must run here, on the replay context.
        cancel.Cancel();
#pragma warning restore CA1849
        if (first == received)
        {
            return received.Result;
        }

        throw new TimeoutException($"Event '{eventName}' was not received within {timeout}.");
    }

    /// <summary>Runs another orchestration as a child and returns its output.</summary>
    /// <exception cref="TaskFailedException">The child failed.</exception>
    public abstract Task<TResult> CallSubOrchestratorAsync<TResult>(string name, object? input = null, SubOrchestrationOptions? options = null);

    /// <summary>Runs another orchestration as a child and waits for it to finish.</summary>
    public Task CallSubOrchestratorAsync(string name, object? input = null, SubOrchestrationOptions? options = null) =>
        CallSubOrchestratorAsync<object?>(name, input, options);

    /// <summary>Raises an event on another instance, one way.</summary>
    public abstract void SendEvent(string instanceId, string eventName, object? eventData);

    /// <summary>
    /// Ends this execution when the code returns and starts a new one of the same instance with
    /// <paramref name="newInput"/>; its history starts empty. With <paramref name="preserveUnprocessedEvents"/>,
    /// events received and not yet waited for are handed to the new execution.
    /// </summary>
    public abstract void ContinueAsNew(object? newInput = null, bool preserveUnprocessedEvents = false);

    /// <summary>Sets the custom status that clients see in the instance's metadata.</summary>
    public abstract void SetCustomStatus(object? customStatus);

    /// <summary>A new id that is the same on every replay.</summary>
    public abstract Guid NewGuid();

    /// <summary>A logger that writes only when the code is not replaying.</summary>
    public abstract ILogger CreateReplaySafeLogger(string categoryName);

    /// <summary>Entity operations and critical sections available to this orchestration.</summary>
    public abstract TaskOrchestrationEntityFeature Entities { get; }
}
