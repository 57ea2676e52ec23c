using Google.Protobuf.WellKnownTypes;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Protocol.V1;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Host.Services;

/// <summary>
/// Follows a run's history as it is committed: each activity start and end becomes a <see cref="RunEvent"/> (marked as
/// a compensation once a step has failed and a different step is scheduled), then the outcome. Woken by the store's
/// change notification for the instance, not by polling.
/// </summary>
internal sealed class RunWatcher
{
    private readonly IOrchestrationStore _store;

    /// <summary>Creates the watcher.</summary>
    public RunWatcher(IOrchestrationStore store) => _store = store;

    /// <summary>Writes every step of the run, then its outcome, and returns when the run is over.</summary>
    /// <exception cref="InstanceNotFoundException">No such run.</exception>
    public async Task WatchAsync(string instanceId, Func<RunEvent, Task> write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        var steps = new StepReader();
        string? executionId = null;
        var seen = 0;
        while (true)
        {
            // Asked for before reading, so a commit between the read and the wait still wakes us.
            var changed = _store.WaitForInstanceChangeAsync(instanceId, cancellationToken);
            var instance = await _store.GetInstanceAsync(instanceId, includePayloads: false, cancellationToken)
                ?? throw new InstanceNotFoundException(instanceId);
            if (instance.ExecutionId != executionId)
            {
                (executionId, seen, steps) = (instance.ExecutionId, 0, new StepReader());
            }

            var history = await _store.GetHistoryAsync(instanceId, executionId, cancellationToken);
            for (; seen < history.Count; seen++)
            {
                if (steps.Read(history[seen]) is { } step)
                {
                    await write(step);
                }
            }

            if (instance.IsTerminal)
            {
                // Only the outcome needs the output and failure, so they are read once, at the end.
                var run = await _store.GetInstanceAsync(instanceId, includePayloads: true, cancellationToken)
                    ?? throw new InstanceNotFoundException(instanceId);
                if (run.ExecutionId == executionId && run.IsTerminal)
                {
                    await write(Outcome(run));
                    return;
                }

                // Restarted between the two reads: follow the new execution.
                continue;
            }

            await changed;
        }
    }

    private static RunEvent Outcome(OrchestrationMetadata run)
    {
        var at = Timestamp.FromDateTime(DateTime.SpecifyKind(run.CompletedAt ?? run.LastUpdatedAt, DateTimeKind.Utc));
        return run.Status switch
        {
            OrchestrationRuntimeStatus.Completed => new RunEvent { Time = at, Kind = "run_completed", Name = run.Name, Detail = run.SerializedOutput ?? string.Empty },
            OrchestrationRuntimeStatus.Terminated => new RunEvent { Time = at, Kind = "run_terminated", Name = run.Name, Detail = run.SerializedOutput ?? string.Empty },
            _ => new RunEvent
            {
                Time = at,
                Kind = "run_failed",
                Name = SandboxCallException.KindOf(run.FailureDetails).ToString(),
                Detail = run.FailureDetails?.ToString() ?? run.Status.ToString(),
            },
        };
    }

    /// <summary>Turns history events into step events with their durations; <see cref="RunStepReader"/> tells which steps undo the call.</summary>
    private sealed class StepReader
    {
        private readonly RunStepReader _steps = new();
        private readonly Dictionary<int, DateTime> _startedAt = [];

        public RunEvent? Read(HistoryEvent e)
        {
            if (_steps.Read(e) is not { } step)
            {
                return null;
            }

            var at = e.Timestamp?.ToDateTime() ?? DateTime.UtcNow;
            var (started, completed, failed) = step.Compensation
                ? ("compensation_started", "compensation_completed", "compensation_failed")
                : ("step_started", "step_completed", "step_failed");
            switch (step.Kind)
            {
                case RunStepKind.Started:
                    _startedAt[step.TaskId] = at;
                    return Step(started, step, at, string.Empty, null);
                case RunStepKind.Completed:
                    return Step(completed, step, at, string.Empty, at - _startedAt[step.TaskId]);
                default:
                    var reason = FailureDetails.FromProto(e.TaskFailed.FailureDetails)?.ToString() ?? string.Empty;
                    return Step(failed, step, at, reason, at - _startedAt[step.TaskId]);
            }
        }

        private static RunEvent Step(string kind, RunStep step, DateTime at, string detail, TimeSpan? duration) => new()
        {
            Time = Timestamp.FromDateTime(DateTime.SpecifyKind(at, DateTimeKind.Utc)),
            Kind = kind,
            Name = step.Name,
            TaskId = step.TaskId,
            Detail = detail,
            DurationMs = duration?.TotalMilliseconds ?? 0,
        };
    }
}
