using Microsoft.Extensions.DependencyInjection;

namespace KataWorkflows.Engine;

/// <summary>
/// The orchestrators, activities and entities a worker can run, by stable name. Names are stored in history,
/// so renaming one breaks the replay of runs that used the old name. Names compare case-insensitively.
/// </summary>
public sealed class DurableTaskRegistry
{
    private readonly Dictionary<string, Func<IServiceProvider, ITaskOrchestrator>> _orchestrators = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Func<IServiceProvider, ITaskActivity>> _activities = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Func<IServiceProvider, ITaskEntity>> _entities = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The registered orchestrator names.</summary>
    public IEnumerable<string> OrchestratorNames => _orchestrators.Keys;

    /// <summary>The registered activity names.</summary>
    public IEnumerable<string> ActivityNames => _activities.Keys;

    /// <summary>Registers an orchestrator type, created per episode with dependency injection.</summary>
    public DurableTaskRegistry AddOrchestrator<TOrchestrator>(string name)
        where TOrchestrator : class, ITaskOrchestrator =>
        AddOrchestrator(name, sp => ActivatorUtilities.CreateInstance<TOrchestrator>(sp));

    /// <summary>Registers an orchestrator factory.</summary>
    public DurableTaskRegistry AddOrchestrator(string name, Func<IServiceProvider, ITaskOrchestrator> factory)
    {
        Add(_orchestrators, name, factory, "orchestrator");
        return this;
    }

    /// <summary>Registers an orchestrator written as a function.</summary>
    public DurableTaskRegistry AddOrchestratorFunc<TInput, TOutput>(
        string name, Func<TaskOrchestrationContext, TInput, Task<TOutput>> implementation)
    {
        var orchestrator = new FuncOrchestrator<TInput, TOutput>(implementation);
        return AddOrchestrator(name, _ => orchestrator);
    }

    /// <summary>Registers an activity type, created per run with dependency injection.</summary>
    public DurableTaskRegistry AddActivity<TActivity>(string name)
        where TActivity : class, ITaskActivity =>
        AddActivity(name, sp => ActivatorUtilities.CreateInstance<TActivity>(sp));

    /// <summary>Registers an activity factory.</summary>
    public DurableTaskRegistry AddActivity(string name, Func<IServiceProvider, ITaskActivity> factory)
    {
        Add(_activities, name, factory, "activity");
        return this;
    }

    /// <summary>Registers an activity written as a function.</summary>
    public DurableTaskRegistry AddActivityFunc<TInput, TOutput>(
        string name, Func<TaskActivityContext, TInput, Task<TOutput>> implementation)
    {
        var activity = new FuncActivity<TInput, TOutput>(implementation);
        return AddActivity(name, _ => activity);
    }

    /// <summary>Registers an entity type, created per batch with dependency injection.</summary>
    public DurableTaskRegistry AddEntity<TEntity>(string name)
        where TEntity : class, ITaskEntity =>
        AddEntity(name, sp => ActivatorUtilities.CreateInstance<TEntity>(sp));

    /// <summary>Registers an entity factory.</summary>
    public DurableTaskRegistry AddEntity(string name, Func<IServiceProvider, ITaskEntity> factory)
    {
        Add(_entities, EntityInstanceId.NormalizeName(name), factory, "entity");
        return this;
    }

    internal bool TryCreateEntity(string name, IServiceProvider services, out ITaskEntity? entity)
    {
        entity = _entities.TryGetValue(name, out var f) ? f(services) : null;
        return entity is not null;
    }

    internal bool TryCreateOrchestrator(string name, IServiceProvider services, out ITaskOrchestrator? orchestrator)
    {
        orchestrator = _orchestrators.TryGetValue(name, out var f) ? f(services) : null;
        return orchestrator is not null;
    }

    internal bool TryCreateActivity(string name, IServiceProvider services, out ITaskActivity? activity)
    {
        activity = _activities.TryGetValue(name, out var f) ? f(services) : null;
        return activity is not null;
    }

    private static void Add<T>(Dictionary<string, T> map, string name, T factory, string kind)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        if (!map.TryAdd(name, factory))
        {
            throw new ArgumentException($"An {kind} named '{name}' is already registered.", nameof(name));
        }
    }

    private sealed class FuncOrchestrator<TInput, TOutput>(Func<TaskOrchestrationContext, TInput, Task<TOutput>> body)
        : TaskOrchestrator<TInput, TOutput>
    {
        public override Task<TOutput> RunAsync(TaskOrchestrationContext context, TInput input) => body(context, input);
    }

    private sealed class FuncActivity<TInput, TOutput>(Func<TaskActivityContext, TInput, Task<TOutput>> body)
        : TaskActivity<TInput, TOutput>
    {
        public override Task<TOutput> RunAsync(TaskActivityContext context, TInput input) => body(context, input);
    }
}
