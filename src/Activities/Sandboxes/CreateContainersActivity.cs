using KataWorkflows.Engine.Worker;
using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary>
/// <see cref="SandboxActivities.CreateContainers"/>: creates each container in the guest, in order, and returns them
/// ready. All or nothing: the orchestration undoes this step only once it succeeded, so when one container fails
/// every container this step attempted is removed before the failure is reported.
/// </summary>
public sealed class CreateContainersActivity(SandboxActivityServices services) : SandboxActivity<ContainersRequest, IReadOnlyList<ContainerRecord>>(services)
{
    /// <inheritdoc />
    public override async Task<IReadOnlyList<ContainerRecord>> RunAsync(TaskActivityContext context, ContainersRequest input)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var agent = Drivers.GetAgent(input.Target.AgentType);
        var created = new List<ContainerRecord>();
        var attempted = new List<string>();
        try
        {
            foreach (var config in input.Containers)
            {
                attempted.Add(config.Id);
                var process = await CallAsync(context, id, ct => agent.CreateContainerAsync(id, config, ct)).ConfigureAwait(false);
                created.Add(new ContainerRecord
                {
                    Id = config.Id,
                    Config = config,
                    State = SandboxState.Ready,
                    Pid = process.Pid,
                    Token = process.Token,
                    StartTime = process.StartTime,
                });
            }
        }
        catch (Exception ex) when (!ActivityExecution.CancellationToken.IsCancellationRequested)
        {
            // The failed create may have got as far as the guest; removing a container that is not there is a no-op.
            foreach (var containerId in attempted)
            {
                await UndoAsync(context, id, $"agent.removeContainer {containerId}", ex, ct => agent.RemoveContainerAsync(id, containerId, ct)).ConfigureAwait(false);
            }

            throw;
        }

        return created;
    }
}
