using System.Collections.Concurrent;
using System.Reflection;
using KataWorkflows.Engine.Serialization;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine;

/// <summary>An entity as the engine sees it: one operation at a time, state through <see cref="TaskEntityOperation.State"/>.</summary>
public interface ITaskEntity
{
    /// <summary>Runs one operation and returns its result.</summary>
    ValueTask<object?> RunAsync(TaskEntityOperation operation);
}

/// <summary>One operation given to an entity.</summary>
public sealed class TaskEntityOperation
{
    private readonly string? _input;
    private readonly DataConverter _converter;

    internal TaskEntityOperation(string name, string? input, TaskEntityContext context, TaskEntityState state, DataConverter converter)
    {
        Name = name;
        _input = input;
        Context = context;
        State = state;
        _converter = converter;
    }

    /// <summary>The operation name.</summary>
    public string Name { get; }

    /// <summary>The entity's context: its id, and signals and orchestrations it may start.</summary>
    public TaskEntityContext Context { get; }

    /// <summary>The entity's state.</summary>
    public TaskEntityState State { get; }

    /// <summary>True when the operation carries an input.</summary>
    public bool HasInput => _input is not null;

    /// <summary>Reads the input as the given type.</summary>
    public object? GetInput(Type type) => _converter.Deserialize(_input, type);
}

/// <summary>An entity's state, kept as JSON text between operations so a failed operation can be rolled back.</summary>
public sealed class TaskEntityState
{
    private readonly DataConverter _converter;

    internal TaskEntityState(string? serialized, DataConverter converter)
    {
        Serialized = serialized;
        _converter = converter;
    }

    /// <summary>True when the entity has state.</summary>
    public bool HasState => Serialized is not null;

    internal string? Serialized { get; set; }

    /// <summary>Reads the state as the given type.</summary>
    public object? GetState(Type type) => _converter.Deserialize(Serialized, type);

    /// <summary>Replaces the state; null deletes it.</summary>
    public void SetState(object? state) => Serialized = _converter.Serialize(state);
}

/// <summary>What an entity operation may do besides changing its state.</summary>
public sealed class TaskEntityContext
{
    private readonly DataConverter _converter;
    private readonly List<OperationAction> _actions = [];

    internal TaskEntityContext(EntityInstanceId id, DataConverter converter)
    {
        Id = id;
        _converter = converter;
    }

    /// <summary>This entity's id.</summary>
    public EntityInstanceId Id { get; }

    internal IReadOnlyList<OperationAction> Actions => _actions;

    internal int Checkpoint() => _actions.Count;

    internal void Rollback(int checkpoint) => _actions.RemoveRange(checkpoint, _actions.Count - checkpoint);

    /// <summary>Signals another entity (or this one) once the operation commits.</summary>
    public void SignalEntity(EntityInstanceId id, string operationName, object? input = null, DateTime? scheduledTime = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(operationName);
        var signal = new SendSignalAction { InstanceId = id.ToString(), Name = operationName, Input = _converter.Serialize(input) };
        if (scheduledTime is { } at)
        {
            signal.ScheduledTime = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(at.ToUniversalTime());
        }

        _actions.Add(new OperationAction { Id = _actions.Count, SendSignal = signal });
    }

    /// <summary>Starts an orchestration once the operation commits; returns its instance id.</summary>
    public string ScheduleNewOrchestration(string name, object? input = null, string? instanceId = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        instanceId ??= Guid.NewGuid().ToString("N");
        _actions.Add(new OperationAction
        {
            Id = _actions.Count,
            StartNewOrchestration = new StartNewOrchestrationAction { InstanceId = instanceId, Name = name, Input = _converter.Serialize(input) },
        });
        return instanceId;
    }
}

/// <summary>
/// Base class for entities with typed state. Operations are the public methods of the derived class, matched by
/// name (case-insensitive); a method takes nothing, the input, the context, or the input then the context, and
/// may return a value or a task. An entity without a <c>Delete</c> method deletes its state on "delete".
/// </summary>
/// <typeparam name="TState">The state type.</typeparam>
public abstract class TaskEntity<TState> : ITaskEntity
{
    private static readonly ConcurrentDictionary<(Type, string), MethodInfo?> Methods = new();

    /// <summary>The state, read before each operation and written after it succeeds.</summary>
    protected TState State { get; set; } = default!;

    /// <summary>The context of the running operation.</summary>
    protected TaskEntityContext Context { get; private set; } = null!;

    /// <summary>The state an entity starts with; a new <typeparamref name="TState"/> when it has a parameterless constructor.</summary>
    protected virtual TState InitializeState(TaskEntityOperation operation)
    {
        var type = typeof(TState);
        return type.IsValueType || type.GetConstructor(Type.EmptyTypes) is not null ? Activator.CreateInstance<TState>() : default!;
    }

    /// <inheritdoc />
    public async ValueTask<object?> RunAsync(TaskEntityOperation operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        Context = operation.Context;
        State = operation.State.HasState ? (TState)operation.State.GetState(typeof(TState))! : InitializeState(operation);
        var method = Methods.GetOrAdd((GetType(), operation.Name.ToUpperInvariant()), key => FindOperation(key.Item1, operation.Name));
        if (method is null)
        {
            if (string.Equals(operation.Name, "delete", StringComparison.OrdinalIgnoreCase))
            {
                operation.State.SetState(null);
                return null;
            }

            throw new NotSupportedException($"Entity '{Context.Id.Name}' has no operation named '{operation.Name}'.");
        }

        var parameters = method.GetParameters();
        var args = new object?[parameters.Length];
        for (var i = 0; i < parameters.Length; i++)
        {
            args[i] = parameters[i].ParameterType == typeof(TaskEntityContext) ? Context : operation.GetInput(parameters[i].ParameterType);
        }

        object? result;
        try
        {
            result = method.Invoke(this, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }

        result = await UnwrapAsync(result).ConfigureAwait(false);
        operation.State.SetState(State);
        return result;
    }

    private static MethodInfo? FindOperation(Type type, string name) =>
        type.GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m.DeclaringType != typeof(object) && !(m.DeclaringType!.IsGenericType && m.DeclaringType.GetGenericTypeDefinition() == typeof(TaskEntity<>)))
            .Where(m => !m.IsSpecialName && string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase))
            .FirstOrDefault(m => m.GetParameters().Length <= 2);

    private static async ValueTask<object?> UnwrapAsync(object? result)
    {
        switch (result)
        {
            case Task task:
                await task.ConfigureAwait(false);
                var type = task.GetType();
                return type.IsGenericType && type.GetGenericArguments()[0].Name != "VoidTaskResult"
                    ? type.GetProperty(nameof(Task<object>.Result))!.GetValue(task)
                    : null;
            case ValueTask valueTask:
                await valueTask.ConfigureAwait(false);
                return null;
            default:
                if (result?.GetType() is { IsGenericType: true } t && t.GetGenericTypeDefinition() == typeof(ValueTask<>))
                {
                    var asTask = (Task)t.GetMethod(nameof(ValueTask<object>.AsTask))!.Invoke(result, null)!;
                    return await UnwrapAsync(asTask).ConfigureAwait(false);
                }

                return result;
        }
    }
}
