using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;

namespace KataWorkflows.Cli.ReplayCandidate;

/// <summary>
/// Two candidate builds of the sandbox orchestrations, as a developer would bring to 'kwf wf replay --assembly': one
/// unchanged, and one whose EnterContainer (container exec) was changed to run a health check before the process.
/// </summary>
public static class CandidateOrchestrations
{
    /// <summary>The activity the changed EnterContainer schedules first (it need not exist: replay runs no activity).</summary>
    public const string HealthCheck = "container.healthCheck";

    /// <summary>The orchestrations exactly as they are today.</summary>
    public static void Unchanged(DurableTaskRegistry registry) => registry.AddSandboxOrchestrations();

    /// <summary>EnterContainer changed: a health-check step before the exec step.</summary>
    public static void ChangedExec(DurableTaskRegistry registry) =>
        registry.AddOrchestratorFunc<SandboxRequest, SandboxOperationResult>(SandboxOrchestrations.EnterContainer, EnterContainerV2Async);

    private static async Task<SandboxOperationResult> EnterContainerV2Async(TaskOrchestrationContext context, SandboxRequest request)
    {
        var entity = SandboxEntity.IdFor(request.SandboxId);
        await using (await context.Entities.LockEntitiesAsync(entity))
        {
            var record = await context.Entities.CallEntityAsync<SandboxRecord?>(entity, SandboxEntity.GetOperation)
                ?? throw new SandboxNotFoundException($"Sandbox {request.SandboxId} does not exist");
            var container = record.FindContainer(request.ContainerId!)
                ?? throw new SandboxNotFoundException($"Container does not exist: {request.ContainerId}");
            var target = SandboxTarget.Of(record);

            // The change: the new code checks the container before it enters it.
            await context.CallActivityAsync<bool>(HealthCheck, new ContainerRequest(target, container.Id));
            var process = await context.CallActivityAsync<ProcessInfo>(
                SandboxActivities.ExecProcess, new ContainerRequest(target, container.Id) { Cmd = request.Cmd });
            return new SandboxOperationResult { Sandbox = SandboxStatus.Of(record), Process = process };
        }
    }
}
