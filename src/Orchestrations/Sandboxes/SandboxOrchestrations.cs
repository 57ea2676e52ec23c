using KataWorkflows.Orchestrations.Model;
using Microsoft.DurableTask;

namespace KataWorkflows.Orchestrations.Sandboxes;

/// <summary>
/// Every mutating call of Kata's virtcontainers API as an orchestration. Each one locks the sandbox's entity,
/// reads its record, takes its steps, writes the new record and unlocks; the names are stored in history and
/// never change.
/// </summary>
public static class SandboxOrchestrations
{
    /// <summary>CreateSandbox(config).</summary>
    public const string CreateSandbox = "CreateSandbox";

    /// <summary>RunSandbox(config): create, then start.</summary>
    public const string RunSandbox = "RunSandbox";

    /// <summary>StartSandbox(id).</summary>
    public const string StartSandbox = "StartSandbox";

    /// <summary>StopSandbox(id, force).</summary>
    public const string StopSandbox = "StopSandbox";

    /// <summary>DeleteSandbox(id).</summary>
    public const string DeleteSandbox = "DeleteSandbox";

    /// <summary>PauseSandbox(id).</summary>
    public const string PauseSandbox = "PauseSandbox";

    /// <summary>ResumeSandbox(id).</summary>
    public const string ResumeSandbox = "ResumeSandbox";

    /// <summary>CreateContainer(id, config).</summary>
    public const string CreateContainer = "CreateContainer";

    /// <summary>StartContainer(id, container).</summary>
    public const string StartContainer = "StartContainer";

    /// <summary>StopContainer(id, container, force).</summary>
    public const string StopContainer = "StopContainer";

    /// <summary>DeleteContainer(id, container).</summary>
    public const string DeleteContainer = "DeleteContainer";

    /// <summary>KillContainer(id, container, signal, all).</summary>
    public const string KillContainer = "KillContainer";

    /// <summary>UpdateContainer(id, container, resources).</summary>
    public const string UpdateContainer = "UpdateContainer";

    /// <summary>PauseContainer(id, container).</summary>
    public const string PauseContainer = "PauseContainer";

    /// <summary>ResumeContainer(id, container).</summary>
    public const string ResumeContainer = "ResumeContainer";

    /// <summary>EnterContainer(id, container, cmd).</summary>
    public const string EnterContainer = "EnterContainer";

    /// <summary>AddDevice(id, device).</summary>
    public const string AddDevice = "AddDevice";

    /// <summary>AddInterface(id, interface).</summary>
    public const string AddInterface = "AddInterface";

    /// <summary>RemoveInterface(id, interface).</summary>
    public const string RemoveInterface = "RemoveInterface";

    /// <summary>UpdateRoutes(id, routes).</summary>
    public const string UpdateRoutes = "UpdateRoutes";

    /// <summary>CleanupContainer(id, container, force).</summary>
    public const string CleanupContainer = "CleanupContainer";

    /// <summary>Every orchestration name.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        CreateSandbox, RunSandbox, StartSandbox, StopSandbox, DeleteSandbox, PauseSandbox, ResumeSandbox,
        CreateContainer, StartContainer, StopContainer, DeleteContainer, KillContainer, UpdateContainer,
        PauseContainer, ResumeContainer, EnterContainer, AddDevice, AddInterface, RemoveInterface, UpdateRoutes,
        CleanupContainer,
    ];

    /// <summary>Registers every sandbox orchestration and the sandbox entity.</summary>
    public static DurableTaskRegistry AddSandboxOrchestrations(this DurableTaskRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddEntity<SandboxEntity>(SandboxEntity.Name);
        Add(registry, CreateSandbox, (s, r) => s.CreateAsync(RequireConfig(r), thenStart: false));
        Add(registry, RunSandbox, (s, r) => s.CreateAsync(RequireConfig(r), thenStart: true));
        Add(registry, StartSandbox, (s, _) => s.StartAsync());
        Add(registry, StopSandbox, (s, r) => s.StopAsync(r.Force));
        Add(registry, DeleteSandbox, (s, _) => s.DeleteAsync());
        Add(registry, PauseSandbox, (s, _) => s.PauseAsync());
        Add(registry, ResumeSandbox, (s, _) => s.ResumeAsync());
        Add(registry, CreateContainer, (s, r) => s.CreateContainerAsync(r.Container));
        Add(registry, StartContainer, (s, r) => s.StartContainerAsync(r.ContainerId));
        Add(registry, StopContainer, (s, r) => s.StopContainerAsync(r.ContainerId, r.Force));
        Add(registry, DeleteContainer, (s, r) => s.DeleteContainerAsync(r.ContainerId));
        Add(registry, KillContainer, (s, r) => s.KillContainerAsync(r.ContainerId, r.Signal, r.All));
        Add(registry, UpdateContainer, (s, r) => s.UpdateContainerAsync(r.ContainerId, r.Resources));
        Add(registry, PauseContainer, (s, r) => s.PauseContainerAsync(r.ContainerId));
        Add(registry, ResumeContainer, (s, r) => s.ResumeContainerAsync(r.ContainerId));
        Add(registry, EnterContainer, (s, r) => s.EnterContainerAsync(r.ContainerId, r.Cmd));
        Add(registry, AddDevice, (s, r) => s.AddDeviceAsync(r.Device));
        Add(registry, AddInterface, (s, r) => s.AddInterfaceAsync(r.Interface));
        Add(registry, RemoveInterface, (s, r) => s.RemoveInterfaceAsync(r.Interface));
        Add(registry, UpdateRoutes, (s, r) => s.UpdateRoutesAsync(r.Routes));
        Add(registry, CleanupContainer, (s, r) => s.CleanupContainerAsync(r.ContainerId, r.Force));
        return registry;
    }

    /// <summary>
    /// Checks a request before anything is scheduled: the id, and for create/run the whole configuration.
    /// </summary>
    /// <exception cref="InvalidSandboxArgumentException">The message names the bad field.</exception>
    public static void ValidateRequest(string orchestration, SandboxRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!All.Contains(orchestration))
        {
            throw new InvalidSandboxArgumentException("operation", $"'{orchestration}' is not a sandbox operation");
        }

        if (orchestration is CreateSandbox or RunSandbox)
        {
            var config = RequireConfig(request).Validated();
            if (config.Id != request.SandboxId)
            {
                throw new InvalidSandboxArgumentException("sandboxId", $"sandboxId '{request.SandboxId}' differs from sandboxConfig.id '{config.Id}'");
            }

            return;
        }

        SandboxIds.ValidateSandboxId(request.SandboxId);
        if (orchestration is not (StartSandbox or StopSandbox or DeleteSandbox or PauseSandbox or ResumeSandbox
            or AddDevice or AddInterface or RemoveInterface or UpdateRoutes or CreateContainer))
        {
            SandboxIds.ValidateContainerId(request.ContainerId);
        }

        if (orchestration == CreateContainer)
        {
            (request.Container ?? throw new InvalidSandboxArgumentException("container", "A container configuration is required")).Validate("container");
        }
    }

    private static SandboxConfig RequireConfig(SandboxRequest request) =>
        request.Config ?? throw new InvalidSandboxArgumentException("sandboxConfig", "A sandbox configuration is required");

    private static void Add(DurableTaskRegistry registry, string name, Func<SandboxSession, SandboxRequest, Task<SandboxOperationResult>> body) =>
        registry.AddOrchestratorFunc<SandboxRequest, SandboxOperationResult>(name, (context, request) => RunAsync(context, request, body));

    private static async Task<SandboxOperationResult> RunAsync(
        TaskOrchestrationContext context, SandboxRequest request, Func<SandboxSession, SandboxRequest, Task<SandboxOperationResult>> body)
    {
        ArgumentNullException.ThrowIfNull(request);
        SandboxIds.ValidateSandboxId(request.SandboxId);
        try
        {
            return await RunLockedAsync(context, request, body);
        }
        catch (SandboxOperationCompensatedException) when (!context.IsReplaying)
        {
            // The exception ends the run, so it escapes in the run's last episode, which is never replayed by a worker.
            SandboxTelemetry.RecordCompensated(context.Name);
            throw;
        }
    }

    private static async Task<SandboxOperationResult> RunLockedAsync(
        TaskOrchestrationContext context, SandboxRequest request, Func<SandboxSession, SandboxRequest, Task<SandboxOperationResult>> body)
    {
        var entity = SandboxEntity.IdFor(request.SandboxId);
        await using (await context.Entities.LockEntitiesAsync(entity))
        {
            var record = await context.Entities.CallEntityAsync<SandboxRecord?>(entity, SandboxEntity.GetOperation);
            var session = new SandboxSession(context, request.SandboxId, record, request.StepTimeout);
            SandboxOperationResult result;
            try
            {
                result = await body(session, request);
            }
            catch (Exception) when (session.Dirty && session.Record is not null)
            {
                // The record must say what really happened (containers already stopped...) before the call fails.
                await session.SaveAsync();
                throw;
            }

            if (session.Dirty)
            {
                await session.SaveAsync();
            }

            return result with { Sandbox = session.Record is null ? null : SandboxStatus.Of(session.Record) };
        }
    }
}
