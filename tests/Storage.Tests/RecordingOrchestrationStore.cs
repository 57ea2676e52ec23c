using System.Reflection;
using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Storage.Tests;

/// <summary>One call that reached a <see cref="RecordingOrchestrationStore"/>, with its arguments and what it returned.</summary>
public sealed record RecordedCall(MethodInfo Method, object?[] Arguments, object? Result);

/// <summary>
/// An <see cref="IOrchestrationStore"/> (made with <see cref="DispatchProxy.Create{T, TProxy}"/>) that does nothing
/// but record every call and answer it with a fresh result, so a caller can tell the answer came from here.
/// </summary>
public class RecordingOrchestrationStore : DispatchProxy
{
    private static readonly MethodInfo CompletedWithDefault =
        typeof(RecordingOrchestrationStore).GetMethod(nameof(CompletedTask), BindingFlags.NonPublic | BindingFlags.Static)!;

    /// <summary>Every call so far, in order.</summary>
    public List<RecordedCall> Calls { get; } = [];

    /// <summary>Creates a recording store.</summary>
    public static IOrchestrationStore Create() => Create<IOrchestrationStore, RecordingOrchestrationStore>();

    /// <inheritdoc />
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        var type = targetMethod.ReturnType;
        object? result =
            type == typeof(string) ? "recorded store" :
            type == typeof(bool) ? true :
            type == typeof(ValueTask) ? ValueTask.CompletedTask :
            type == typeof(Task) ? CompletedTask<object?>() :
            type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Task<>)
                ? CompletedWithDefault.MakeGenericMethod(type.GetGenericArguments()[0]).Invoke(null, null)
                : throw new NotSupportedException($"{targetMethod.Name} returns {type}");
        Calls.Add(new RecordedCall(targetMethod, args ?? [], result));
        return result;
    }

    // A new task each time (Task.FromResult and Task.CompletedTask may hand out cached ones), so identity proves origin.
    private static Task<T?> CompletedTask<T>()
    {
        var completion = new TaskCompletionSource<T?>();
        completion.SetResult(default);
        return completion.Task;
    }
}
