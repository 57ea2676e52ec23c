using KataWorkflows.Engine;
using KataWorkflows.Engine.Client;

namespace KataWorkflows.Bench.Harness;

/// <summary>Schedules one orchestration and waits for it, turning anything but a clean completion into a failure that says where it stood.</summary>
internal static class WorkflowRuns
{
    /// <summary>
    /// Schedules <paramref name="orchestration"/> and waits for it to complete. When <paramref name="cancellationToken"/>
    /// fires (the operation timed out), the failure reports the instance's status and, when given, an entity's lock state.
    /// Without <paramref name="instanceId"/> the engine makes the id.
    /// </summary>
    public static async Task RunAsync(
        StoreDurableTaskClient client, string orchestration, object? input, CancellationToken cancellationToken, EntityInstanceId? entity = null, string? instanceId = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        var options = instanceId is null ? null : new Microsoft.DurableTask.StartOrchestrationOptions { InstanceId = instanceId };
        var id = await client.ScheduleNewOrchestrationInstanceAsync(orchestration, input, options, cancellationToken);
        OrchestrationMetadata done;
        try
        {
            done = await client.WaitForInstanceCompletionRecordAsync(id, getInputsAndOutputs: false, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            using var diagnose = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var now = await client.GetInstanceRecordAsync(id, getInputsAndOutputs: false, diagnose.Token);
            var where = $"{orchestration} {id} still {now?.Status.ToString() ?? "missing"} (last updated {now?.LastUpdatedAt:O})";
            if (entity is { } e && await client.Entities.GetEntityRecordAsync(e, includeState: true, diagnose.Token) is { } state)
            {
                where += $"; entity {e} state {state.SerializedState}, locked by {state.LockedBy ?? "nobody"}, backlog {state.BacklogQueueSize}";
            }

            throw new OperationCanceledException(where, cancellationToken);
        }

        if (done.Status != OrchestrationRuntimeStatus.Completed)
        {
            throw new BenchmarkFailedException(
                $"{orchestration} {id} ended {done.Status}: {done.FailureDetails?.ErrorType} {done.FailureDetails?.ErrorMessage}");
        }
    }
}
