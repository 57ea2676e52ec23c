using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using Microsoft.DurableTask;

namespace KataWorkflows.Orchestrations.Sandboxes;

internal sealed partial class SandboxSession
{
    /// <summary>CreateContainer: a new container in a ready or running sandbox; undone if it cannot be stored.</summary>
    public async Task<SandboxOperationResult> CreateContainerAsync(ContainerConfig? config)
    {
        if (config is null)
        {
            throw new InvalidSandboxArgumentException("container", "A container configuration is required");
        }

        config.Validate("container");
        var record = RequireSandbox();
        RequireSandboxState("Sandbox not ready or running, impossible to create a container", SandboxState.Ready, SandboxState.Running);
        if (record.FindContainer(config.Id) is not null)
        {
            throw new SandboxAlreadyExistsException($"Duplicated container: {config.Id}");
        }

        var created = await StepAsync<List<ContainerRecord>>(SandboxActivities.CreateContainers, new ContainersRequest(Target, [config]));
        Update(record.WithContainer(created[0]) with { Config = record.Config with { Containers = [.. record.Config.Containers, config] } });
        try
        {
            await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        }
        catch (Exception ex) when (ex is TaskFailedException or TimeoutException)
        {
            await StepAsync<bool>(SandboxActivities.DeleteContainers, new ContainersRequest(Target, [config], Force: true), Compensations.Retry);
            Update(record);
            throw new SandboxOperationCompensatedException("CreateContainer", SandboxId, SandboxActivities.StoreSandbox, Cause(ex), [SandboxActivities.DeleteContainers]);
        }

        return Result();
    }

    /// <summary>
    /// StartContainer: the sandbox must run; the container must be ready or stopped. A stopped container was removed
    /// from the guest when it stopped, so it is created there again first. A failed start stops it again.
    /// </summary>
    public async Task<SandboxOperationResult> StartContainerAsync(string? containerId)
    {
        var container = RequireContainer(containerId);
        RequireSandboxState("Sandbox not running, impossible to start the container", SandboxState.Running);
        RequireContainerState(container, "Container not ready or stopped, impossible to start", SandboxState.Ready, SandboxState.Stopped);
        StateTransitions.Validate($"container {container.Id}", container.State, SandboxState.Running);
        try
        {
            if (container.State == SandboxState.Stopped)
            {
                var created = await StepAsync<List<ContainerRecord>>(SandboxActivities.CreateContainers, new ContainersRequest(Target, [container.Config]));
                container = created[0];
            }

            await StepAsync<bool>(SandboxActivities.StartContainer, new ContainerRequest(Target, container.Id));
        }
        catch (Exception ex) when (ex is TaskFailedException or TimeoutException)
        {
            await StepAsync<bool>(SandboxActivities.StopContainer, new ContainerRequest(Target, container.Id, Force: true), Compensations.Retry);
            Update(Record!.WithContainer(container with { State = SandboxState.Stopped }));
            throw;
        }

        Update(Record!.WithContainer(container with { State = SandboxState.Running }));
        await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        return Result();
    }

    /// <summary>StopContainer: a stopped container is left as it is; with force, driver errors are skipped.</summary>
    public async Task<SandboxOperationResult> StopContainerAsync(string? containerId, bool force)
    {
        var container = RequireContainer(containerId);
        if (container.State == SandboxState.Stopped)
        {
            return Result() with { Note = $"Container {container.Id} is already stopped: nothing to do" };
        }

        StateTransitions.Validate($"container {container.Id}", container.State, SandboxState.Stopped);
        await StepAsync<bool>(SandboxActivities.StopContainer, new ContainerRequest(Target, container.Id, force));
        Update(Record!.WithContainer(container with { State = SandboxState.Stopped }));
        await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        return Result();
    }

    /// <summary>
    /// DeleteContainer: only a ready or stopped container. A stopped one was removed from the guest when it stopped; a
    /// ready one is still there (Kata leaves it), so it is removed from the guest here.
    /// </summary>
    public async Task<SandboxOperationResult> DeleteContainerAsync(string? containerId)
    {
        var container = RequireContainer(containerId);
        RequireContainerState(container, "Container not ready or stopped, impossible to delete", SandboxState.Ready, SandboxState.Stopped);
        if (container.State == SandboxState.Ready && Record!.Vm is not null)
        {
            await StepAsync<bool>(SandboxActivities.DeleteContainers, new ContainersRequest(Target, [container.Config]));
        }

        var record = Record!.WithoutContainer(container.Id);
        Update(record with { Config = record.Config with { Containers = record.Config.Containers.Where(c => c.Id != container.Id).ToList() } });
        await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        return Result();
    }

    /// <summary>
    /// KillContainer: signal its processes. The sandbox must be ready or running and the container ready, running or
    /// paused, as in Kata; but a SIGKILL never fails (Kata: "SIGKILL should never fail otherwise it is impossible to clean
    /// things up"): to a container in any other state it is a no-op, and an agent that fails or does not answer in time
    /// is skipped. Either way the result's note says what was not done. An unknown container is still NotFound.
    /// </summary>
    public async Task<SandboxOperationResult> KillContainerAsync(string? containerId, int signal, bool all)
    {
        if (signal is < 1 or > 64)
        {
            throw new InvalidSandboxArgumentException("signal", $"signal must be between 1 and 64, got {signal}");
        }

        var container = RequireContainer(containerId);
        try
        {
            RequireSandboxState("Sandbox not ready or running, impossible to signal the container", SandboxState.Ready, SandboxState.Running);
            RequireContainerState(container, "Container not ready, running or paused, impossible to signal the container",
                SandboxState.Ready, SandboxState.Running, SandboxState.Paused);
        }
        catch (SandboxPreconditionException refused) when (signal == SigKill)
        {
            // A stopped container has no process left; a paused or stopped sandbox has no agent to ask.
            return Result() with { Note = $"SIGKILL not sent: {refused.Message}" };
        }

        try
        {
            await StepAsync<bool>(SandboxActivities.KillContainer, new ContainerRequest(Target, container.Id) { Signal = signal, All = all });
        }
        catch (Exception ex) when (signal == SigKill && ex is TaskFailedException or TimeoutException)
        {
            return Result() with { Note = $"SIGKILL to container {container.Id} failed and is ignored, as in Kata: {Cause(ex)}" };
        }

        return Result();
    }

    /// <summary>EnterContainer: run a new process in a running sandbox's ready or running container.</summary>
    public async Task<SandboxOperationResult> EnterContainerAsync(string? containerId, Cmd? cmd)
    {
        if (cmd is null || cmd.Args.Count == 0 || string.IsNullOrEmpty(cmd.Args[0]))
        {
            throw new InvalidSandboxArgumentException("cmd.args", "cmd.args must name the program to run");
        }

        var container = RequireContainer(containerId);
        RequireSandboxState("Sandbox not running, impossible to enter the container", SandboxState.Running);
        RequireContainerState(container, "Container not ready or running, impossible to enter", SandboxState.Ready, SandboxState.Running);
        var process = await StepAsync<ProcessInfo>(SandboxActivities.ExecProcess, new ContainerRequest(Target, container.Id) { Cmd = cmd });
        return Result() with { Process = process };
    }

    /// <summary>UpdateContainer: merge new limits into the container's (values given replace, the rest stay).</summary>
    public async Task<SandboxOperationResult> UpdateContainerAsync(string? containerId, ContainerResources? resources)
    {
        if (resources is null)
        {
            throw new InvalidSandboxArgumentException("resources", "resources are required");
        }

        resources.Validate("resources");
        var container = RequireContainer(containerId);
        RequireSandboxState("Sandbox not running, impossible to update the container", SandboxState.Running);
        RequireContainerState(container, "Container not running or ready, impossible to update", SandboxState.Running, SandboxState.Ready);
        var merged = resources.MergeInto(container.Config.Resources);
        await StepAsync<bool>(SandboxActivities.UpdateContainer, new ContainerRequest(Target, container.Id) { Resources = merged });
        Update(Record!.WithContainer(container with { Config = container.Config with { Resources = merged } }));
        await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        return Result();
    }

    /// <summary>PauseContainer: a running container of a running sandbox.</summary>
    public async Task<SandboxOperationResult> PauseContainerAsync(string? containerId)
    {
        var container = RequireContainer(containerId);
        RequireSandboxState("Sandbox not running, impossible to pause the container", SandboxState.Running);
        RequireContainerState(container, "Container not running, impossible to pause", SandboxState.Running);
        await StepAsync<bool>(SandboxActivities.PauseContainer, new ContainerRequest(Target, container.Id));
        Update(Record!.WithContainer(container with { State = SandboxState.Paused }));
        await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        return Result();
    }

    /// <summary>ResumeContainer: a paused container of a running sandbox.</summary>
    public async Task<SandboxOperationResult> ResumeContainerAsync(string? containerId)
    {
        var container = RequireContainer(containerId);
        RequireSandboxState("Sandbox not running, impossible to resume the container", SandboxState.Running);
        RequireContainerState(container, "Container not paused, impossible to resume", SandboxState.Paused);
        await StepAsync<bool>(SandboxActivities.ResumeContainer, new ContainerRequest(Target, container.Id));
        Update(Record!.WithContainer(container with { State = SandboxState.Running }));
        await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        return Result();
    }

    /// <summary>
    /// CleanupContainer: stop (force skips errors) and delete the container; when it was the last one, stop and
    /// delete the sandbox too.
    /// </summary>
    public async Task<SandboxOperationResult> CleanupContainerAsync(string? containerId, bool force)
    {
        SandboxIds.ValidateContainerId(containerId);
        RequireSandbox();
        if (Record!.FindContainer(containerId!) is not null)
        {
            try
            {
                await StopContainerAsync(containerId, force);
            }
            catch (SandboxException) when (force)
            {
                // Recorded in history; force goes on.
            }

            try
            {
                await DeleteContainerAsync(containerId);
            }
            catch (SandboxException) when (force)
            {
                Update(Record!.WithoutContainer(containerId!));
            }
        }
        else if (!force)
        {
            throw new SandboxNotFoundException($"Container does not exist: {containerId}");
        }

        if (Record!.Containers.Count > 0)
        {
            return Result();
        }

        await StopAsync(force);
        return await DeleteAsync();
    }
}
