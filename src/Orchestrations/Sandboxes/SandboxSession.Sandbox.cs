using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using Microsoft.DurableTask;

namespace KataWorkflows.Orchestrations.Sandboxes;

internal sealed partial class SandboxSession
{
    /// <summary>How the cleanup reason a failed stop leaves begins; a later successful stop clears only that one.</summary>
    private const string StopMark = "StopSandbox: ";

    /// <summary>How the cleanup reason a failed delete leaves begins.</summary>
    private const string DeleteMark = "DeleteSandbox: ";

    /// <summary>
    /// CreateSandbox in Kata's order (record, createNetwork, startVM, getGuestDetails, createContainers,
    /// storeSandbox), and for RunSandbox the start after it. Each step that succeeds registers its undo; a
    /// failure runs them in reverse, so a failed create leaves nothing behind.
    /// </summary>
    public async Task<SandboxOperationResult> CreateAsync(SandboxConfig requested, bool thenStart)
    {
        if (Record is not null)
        {
            throw new SandboxAlreadyExistsException($"sandbox {SandboxId} exists");
        }

        var config = requested.Validated();
        var operation = thenStart ? "RunSandbox" : "CreateSandbox";
        var undo = new Compensations();
        var step = "createSandbox";
        try
        {
            Update(new SandboxRecord
            {
                Id = SandboxId,
                Config = config,
                State = SandboxState.Ready,
                Annotations = config.Annotations,
                PendingOperation = _context.InstanceId,
            });
            await SaveAsync();
            undo.Register("deleteSandbox", async () =>
            {
                await StepAsync<bool>(SandboxActivities.RemoveSandboxStore, new VmRequest(SandboxTarget.Of(Record ?? Placeholder(config)), config), Compensations.Retry);
                await DeleteRecordAsync();
            });

            step = SandboxActivities.CreateNetwork;
            var network = await UndoIfTimedOut(
                StepAsync<NetworkState>(step, new NetworkRequest(Target, config.NetworkConfig)),
                undo,
                SandboxActivities.RemoveNetwork,
                () => StepAsync<bool>(SandboxActivities.RemoveNetwork, new NetworkRequest(Target, config.NetworkConfig, null, Force: true), Compensations.Retry));
            Update(Record! with { Network = network });
            undo.Register(SandboxActivities.RemoveNetwork, () =>
                StepAsync<bool>(SandboxActivities.RemoveNetwork, new NetworkRequest(Target, config.NetworkConfig, network, Force: true), Compensations.Retry));

            step = SandboxActivities.StartVm;
            var vm = await UndoIfTimedOut(
                StepAsync<VmState>(step, new VmRequest(Target, config, network)),
                undo,
                SandboxActivities.StopVm,
                () => StepAsync<bool>(SandboxActivities.StopVm, new VmRequest(Target, config, network, null, Force: true), Compensations.Retry));
            Update(Record! with { Vm = vm });
            undo.Register(SandboxActivities.StopVm, () =>
                StepAsync<bool>(SandboxActivities.StopVm, new VmRequest(Target, config, network, vm, Force: true), Compensations.Retry));

            step = SandboxActivities.GetGuestDetails;
            var guest = await StepAsync<GuestDetails>(step, new VmRequest(Target, config, network, vm));
            Update(Record! with { GuestDetails = guest });

            step = SandboxActivities.CreateContainers;
            var containers = await UndoIfTimedOut(
                StepAsync<List<ContainerRecord>>(step, new ContainersRequest(Target, config.Containers)),
                undo,
                SandboxActivities.DeleteContainers,
                () => StepAsync<bool>(SandboxActivities.DeleteContainers, new ContainersRequest(Target, config.Containers, Force: true), Compensations.Retry));
            Update(Record! with { Containers = containers });
            undo.Register(SandboxActivities.DeleteContainers, () =>
                StepAsync<bool>(SandboxActivities.DeleteContainers, new ContainersRequest(Target, config.Containers, Force: true), Compensations.Retry));

            step = SandboxActivities.StoreSandbox;
            await StepAsync<bool>(step, Record!);
            undo.Register(SandboxActivities.RemoveSandboxStore, () =>
                StepAsync<bool>(SandboxActivities.RemoveSandboxStore, new VmRequest(Target, config), Compensations.Retry));

            if (thenStart)
            {
                step = "startSandbox";
                await StartCoreAsync();
            }

            Update(Record! with { PendingOperation = null });
            await SaveAsync();
            return Result();
        }
        catch (Exception ex)
        {
            // The record as far as the create got: the undo deletes it last, and a sandbox kept for cleanup must still
            // name the VM, network and containers that may be left, or a later delete would skip them.
            var reached = Record;
            var outcome = await undo.RunAsync();
            if (outcome.Failures.Count > 0)
            {
                var reason = $"{operation} failed at {step}: {Cause(ex)}; undoing it failed: {string.Join("; ", outcome.Failures)}";
                Update((reached ?? Placeholder(config)) with { CleanupReason = reason, PendingOperation = null });
                await SaveAsync();
                throw new SandboxCleanupRequiredException(SandboxId, reason);
            }

            throw new SandboxOperationCompensatedException(operation, SandboxId, step, Cause(ex), outcome.Ran);
        }
    }

    /// <summary>
    /// A step that timed out may still finish after the call gave up on it, so its undo is registered as well
    /// (every undo is safe to run when the step did nothing). A step that failed did nothing to undo.
    /// </summary>
    private static async Task<T> UndoIfTimedOut<T>(Task<T> step, Compensations undo, string name, Func<Task> compensation)
    {
        try
        {
            return await step;
        }
        catch (TimeoutException)
        {
            undo.Register(name, compensation);
            throw;
        }
    }

    /// <summary>
    /// A one-step call whose step timed out: the step may still have done its work (a pause that paused the VM, then
    /// hung), so it is undone at once, and the record, which the call leaves as it was, stays true. When the undo
    /// fails too, the record says the sandbox needs cleaning up and why.
    /// </summary>
    private async Task<T> UndoNowIfTimedOut<T>(Task<T> step, string name, Func<Task> compensation)
    {
        try
        {
            return await step;
        }
        catch (TimeoutException ex)
        {
            var undo = new Compensations();
            undo.Register(name, compensation);
            var outcome = await undo.RunAsync();
            if (outcome.Failures.Count > 0)
            {
                Update(Record! with { CleanupReason = $"{ex.Message}; undoing it failed: {string.Join("; ", outcome.Failures)}" });
            }

            throw;
        }
    }

    private SandboxRecord Placeholder(SandboxConfig config) => new() { Id = SandboxId, Config = config };

    /// <summary>StartSandbox: ready or stopped to running; a stopped sandbox gets its network, its VM and its containers in the new guest back first.</summary>
    public async Task<SandboxOperationResult> StartAsync()
    {
        var record = RequireSandbox();
        StateTransitions.Validate(SandboxSubject, record.State, SandboxState.Running);

        // The table allows paused -> running, but that move is ResumeSandbox's: a start would mark the sandbox running
        // while its VM and containers stay paused.
        RequireSandboxState("Sandbox not ready or stopped, impossible to start", SandboxState.Ready, SandboxState.Stopped);
        await StartCoreAsync();
        return Result();
    }

    private async Task StartCoreAsync()
    {
        var record = Record!;
        StateTransitions.Validate(SandboxSubject, record.State, SandboxState.Running);
        var undo = new Compensations();
        try
        {
            // As in a create, a step that timed out may still finish after the call gave up on it, so its undo is
            // registered too: a startVM that outlived its timeout would otherwise leave a VM the stopped record does not know.
            if (record.Vm is null)
            {
                var network = await UndoIfTimedOut(
                    StepAsync<NetworkState>(SandboxActivities.CreateNetwork, new NetworkRequest(Target, record.Config.NetworkConfig)),
                    undo,
                    SandboxActivities.RemoveNetwork,
                    () => StepAsync<bool>(SandboxActivities.RemoveNetwork, new NetworkRequest(Target, record.Config.NetworkConfig, null, Force: true), Compensations.Retry));
                Update(Record! with { Network = network });
                undo.Register(SandboxActivities.RemoveNetwork, () => StepAsync<bool>(
                    SandboxActivities.RemoveNetwork, new NetworkRequest(Target, record.Config.NetworkConfig, network, Force: true), Compensations.Retry));
                var vm = await UndoIfTimedOut(
                    StepAsync<VmState>(SandboxActivities.StartVm, new VmRequest(Target, record.Config, network)),
                    undo,
                    SandboxActivities.StopVm,
                    () => StepAsync<bool>(SandboxActivities.StopVm, new VmRequest(Target, record.Config, network, null, Force: true), Compensations.Retry));
                Update(Record! with { Vm = vm });
                undo.Register(SandboxActivities.StopVm, () => StepAsync<bool>(
                    SandboxActivities.StopVm, new VmRequest(Target, record.Config, network, vm, Force: true), Compensations.Retry));

                // A new VM has a new guest: the containers the record keeps must be created in it before they can start.
                if (Record!.Containers.Count > 0)
                {
                    var configs = Record.Containers.Select(c => c.Config).ToList();
                    var created = await UndoIfTimedOut(
                        StepAsync<List<ContainerRecord>>(SandboxActivities.CreateContainers, new ContainersRequest(Target, configs)),
                        undo,
                        SandboxActivities.DeleteContainers,
                        () => StepAsync<bool>(SandboxActivities.DeleteContainers, new ContainersRequest(Target, configs, Force: true), Compensations.Retry));
                    Update(Record! with { Containers = created });
                    undo.Register(SandboxActivities.DeleteContainers, () => StepAsync<bool>(
                        SandboxActivities.DeleteContainers, new ContainersRequest(Target, configs, Force: true), Compensations.Retry));
                }
            }

            foreach (var container in Record!.Containers.Where(c => c.State is SandboxState.Ready or SandboxState.Stopped).ToList())
            {
                var stop = $"{SandboxActivities.StopContainer} {container.Id}";
                Func<Task> stopContainer = () => StepAsync<bool>(
                    SandboxActivities.StopContainer, new ContainerRequest(Target, container.Id, Force: true), Compensations.Retry);
                await UndoIfTimedOut(StepAsync<bool>(SandboxActivities.StartContainer, new ContainerRequest(Target, container.Id)), undo, stop, stopContainer);
                Update(Record!.WithContainer(container with { State = SandboxState.Running }));
                undo.Register(stop, stopContainer);
            }

            Update(Record! with { State = SandboxState.Running });
            await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        }
        // The SDK reports misused critical sections (an entity outside the lock set, a nested section) as
        // InvalidOperationException: that is a bug of this code, not a failed step to undo.
        catch (Exception ex) when (ex is not InvalidOperationException)
        {
            // All or nothing: what this start did is undone and the record goes back to how it was.
            var outcome = await undo.RunAsync();
            Update(outcome.Failures.Count == 0
                ? record
                : record with { CleanupReason = $"StartSandbox failed: {Cause(ex)}; undoing it failed: {string.Join("; ", outcome.Failures)}" });
            throw;
        }
    }

    /// <summary>StopSandbox: containers, then the VM, then the network. A stopped sandbox is left as it is.</summary>
    public async Task<SandboxOperationResult> StopAsync(bool force)
    {
        var record = RequireSandbox();
        if (record.State == SandboxState.Stopped)
        {
            return Result() with { Note = $"Sandbox {SandboxId} is already stopped: nothing to do" };
        }

        StateTransitions.Validate(SandboxSubject, record.State, SandboxState.Stopped);
        foreach (var container in record.Containers.Where(c => c.State != SandboxState.Stopped))
        {
            await StepAsync<bool>(SandboxActivities.StopContainer, new ContainerRequest(Target, container.Id, force));
            Update(Record!.WithContainer(container with { State = SandboxState.Stopped }));
        }

        if (Record!.Vm is { } vm)
        {
            try
            {
                await StepAsync<bool>(SandboxActivities.StopVm, new VmRequest(Target, record.Config, Record.Network, vm, force));
            }
            catch (Exception ex) when (ex is TimeoutException or TaskFailedException)
            {
                // A stop that outlives its timeout, or fails, may still have stopped the VM (a driver can fail after
                // the VM went down: the chaos soak found a record naming a VM that no longer ran). Stopping cannot be
                // undone and the record cannot say whether the VM is up, so it keeps the VM and says why the sandbox
                // needs cleaning up; a later stop (which clears the mark) or delete stops it, which succeeds for a VM
                // already gone.
                Update(Record! with { CleanupReason = $"{StopMark}{Cause(ex)}; the VM may be up or gone" });
                throw;
            }

            Update(Record! with { Vm = null });
        }

        Update(Record! with { State = SandboxState.Stopped });
        if (Record!.Network is { } network)
        {
            await StepAsync<bool>(SandboxActivities.RemoveNetwork, new NetworkRequest(Target, record.Config.NetworkConfig, network, force));
            Update(Record! with { Network = null });
        }

        if (Record!.CleanupReason?.StartsWith(StopMark, StringComparison.Ordinal) == true)
        {
            // This stop did what the failed one could not: the VM and its network are down, and the record says so again.
            Update(Record! with { CleanupReason = null });
        }

        await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        return Result();
    }

    /// <summary>
    /// DeleteSandbox: only a ready, paused or stopped sandbox. Unlike Kata, a VM still up is stopped here rather
    /// than leaked, so a delete always leaves nothing behind.
    /// </summary>
    public async Task<SandboxOperationResult> DeleteAsync()
    {
        var record = RequireSandbox();
        RequireSandboxState("Sandbox not ready, paused or stopped, impossible to delete", SandboxState.Ready, SandboxState.Paused, SandboxState.Stopped);
        foreach (var container in record.Containers)
        {
            if (record.State != SandboxState.Paused)
            {
                RequireContainerState(container, "Container not ready or stopped, impossible to delete", SandboxState.Ready, SandboxState.Stopped);
            }
        }

        try
        {
            if (record.Vm is { } vm)
            {
                await StepAsync<bool>(SandboxActivities.StopVm, new VmRequest(Target, record.Config, record.Network, vm, Force: true));
                Update(Record! with { Vm = null });
            }

            if (record.Network is { } network)
            {
                await StepAsync<bool>(SandboxActivities.RemoveNetwork, new NetworkRequest(Target, record.Config.NetworkConfig, network, Force: true));
                Update(Record! with { Network = null });
            }

            await StepAsync<bool>(SandboxActivities.RemoveSandboxStore, new VmRequest(Target, record.Config));
        }
        catch (Exception ex) when (ex is TimeoutException or TaskFailedException)
        {
            // A delete that fails partway has torn down what its earlier steps took down, and the step that failed may
            // have done its work before it failed (the chaos soak found a record naming the VM a failed delete had
            // stopped, and one whose run directory it had removed). The record drops what is known to be gone, keeps
            // the rest, and is marked; deleting it again finishes the job, as every step succeeds for what is gone.
            Update(Record! with { CleanupReason = $"{DeleteMark}{Cause(ex)}; the sandbox is partly deleted: delete it again" });
            throw;
        }

        await DeleteRecordAsync();
        return Result();
    }

    /// <summary>PauseSandbox: running to paused, the VM and its running containers with it.</summary>
    public async Task<SandboxOperationResult> PauseAsync()
    {
        var record = RequireSandbox();
        StateTransitions.Validate(SandboxSubject, record.State, SandboxState.Running, SandboxState.Paused);
        var vm = new VmRequest(Target, record.Config, record.Network, record.Vm);
        await UndoNowIfTimedOut(
            StepAsync<bool>(SandboxActivities.PauseVm, vm),
            SandboxActivities.ResumeVm,
            () => StepAsync<bool>(SandboxActivities.ResumeVm, vm with { Force = true }, Compensations.Retry));
        Update(record with
        {
            State = SandboxState.Paused,
            Vm = record.Vm is null ? null : record.Vm with { Paused = true },
            Containers = record.Containers.Select(c => c.State == SandboxState.Running ? c with { State = SandboxState.Paused } : c).ToList(),
        });
        await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        return Result();
    }

    /// <summary>ResumeSandbox: paused to running, the VM and its paused containers with it.</summary>
    public async Task<SandboxOperationResult> ResumeAsync()
    {
        var record = RequireSandbox();
        StateTransitions.Validate(SandboxSubject, record.State, SandboxState.Paused, SandboxState.Running);
        var vm = new VmRequest(Target, record.Config, record.Network, record.Vm);
        await UndoNowIfTimedOut(
            StepAsync<bool>(SandboxActivities.ResumeVm, vm),
            SandboxActivities.PauseVm,
            () => StepAsync<bool>(SandboxActivities.PauseVm, vm with { Force = true }, Compensations.Retry));
        Update(record with
        {
            State = SandboxState.Running,
            Vm = record.Vm is null ? null : record.Vm with { Paused = false },
            Containers = record.Containers.Select(c => c.State == SandboxState.Paused ? c with { State = SandboxState.Running } : c).ToList(),
        });
        await StepAsync<bool>(SandboxActivities.StoreSandbox, Record!);
        return Result();
    }
}
