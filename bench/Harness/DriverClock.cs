using System.Diagnostics;
using System.Reflection;
using KataWorkflows.Activities.Agents;
using KataWorkflows.Activities.Drivers;
using KataWorkflows.Activities.Hypervisors;
using KataWorkflows.Activities.Networks;

namespace KataWorkflows.Bench.Harness;

/// <summary>
/// The wall time during which at least one driver call (hypervisor, agent, network, sandbox store) is in flight: the
/// union of the calls' intervals, so calls that overlap count once. What a lifecycle spends outside it is the engine's
/// (scheduling, history, commits, the entity's queue) and the activities' own code. Measured inside the same lifecycle,
/// it does not depend on how long the VM took to boot at that moment, which comparing against a separate run does.
/// </summary>
internal sealed class DriverClock
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (int Calls, long Ticks)> _byMethod = new(StringComparer.Ordinal);
    private int _inFlight;
    private long _since;
    private long _total;

    /// <summary>Calls and total time per driver method so far ("IAgent.StartContainerAsync"), each call counted whole.</summary>
    public IReadOnlyDictionary<string, (int Calls, TimeSpan Time)> ByMethod()
    {
        lock (_gate)
        {
            return _byMethod.ToDictionary(p => p.Key, p => (p.Value.Calls, Stopwatch.GetElapsedTime(0, p.Value.Ticks)), StringComparer.Ordinal);
        }
    }

    /// <summary>What each method cost per lifecycle between two <see cref="ByMethod"/> snapshots, in ms, largest first.</summary>
    public static Dictionary<string, double> PerLifecycle(IReadOnlyDictionary<string, (int Calls, TimeSpan Time)> before, IReadOnlyDictionary<string, (int Calls, TimeSpan Time)> after, int lifecycles) =>
        after.Select(p => (p.Key, Ms: (p.Value.Time - (before.TryGetValue(p.Key, out var b) ? b.Time : TimeSpan.Zero)).TotalMilliseconds / lifecycles))
            .Where(p => p.Ms > 0)
            .OrderByDescending(p => p.Ms)
            .ToDictionary(p => p.Key, p => Math.Round(p.Ms, 2), StringComparer.Ordinal);

    /// <summary>Adds what each method cost between two <see cref="ByMethod"/> snapshots to <paramref name="sum"/>.</summary>
    public static void AddDelta(Dictionary<string, (int Calls, TimeSpan Time)> sum, IReadOnlyDictionary<string, (int Calls, TimeSpan Time)> before, IReadOnlyDictionary<string, (int Calls, TimeSpan Time)> after)
    {
        foreach (var (method, (calls, time)) in after)
        {
            var (callsBefore, timeBefore) = before.TryGetValue(method, out var b) ? b : (0, TimeSpan.Zero);
            var (callsSoFar, timeSoFar) = sum.GetValueOrDefault(method);
            sum[method] = (callsSoFar + calls - callsBefore, timeSoFar + time - timeBefore);
        }
    }

    /// <summary>One call of <paramref name="method"/> took <paramref name="ticks"/> (Stopwatch ticks).</summary>
    internal void Record(string method, long ticks)
    {
        lock (_gate)
        {
            var (calls, total) = _byMethod.GetValueOrDefault(method);
            _byMethod[method] = (calls + 1, total + ticks);
        }
    }

    /// <summary>Driver time so far.</summary>
    public TimeSpan Elapsed
    {
        get
        {
            lock (_gate)
            {
                var total = _total + (_inFlight > 0 ? Stopwatch.GetTimestamp() - _since : 0);
                return Stopwatch.GetElapsedTime(0, total);
            }
        }
    }

    /// <summary>A driver call begins.</summary>
    public void Enter()
    {
        lock (_gate)
        {
            if (_inFlight++ == 0)
            {
                _since = Stopwatch.GetTimestamp();
            }
        }
    }

    /// <summary>A driver call ended (completed, failed or cancelled).</summary>
    public void Exit()
    {
        lock (_gate)
        {
            if (--_inFlight == 0)
            {
                _total += Stopwatch.GetTimestamp() - _since;
            }
        }
    }

    /// <summary><paramref name="inner"/> behind a proxy that times every call of <typeparamref name="T"/> on this clock.</summary>
    public T WrapInterface<T>(T inner)
        where T : class
    {
        var proxy = DispatchProxy.Create<T, TimedProxy<T>>();
        ((TimedProxy<T>)(object)proxy).Bind(inner, this);
        return proxy;
    }

    /// <summary>A resolver whose drivers are timed on this clock (each wrapped once).</summary>
    public IDriverResolver Wrap(IDriverResolver inner) => new TimedResolver(inner, this);

    private sealed class TimedResolver(IDriverResolver inner, DriverClock clock) : IDriverResolver
    {
        private readonly Dictionary<object, object> _wrapped = new(ReferenceEqualityComparer.Instance);

        public IHypervisor GetHypervisor(string hypervisorType) => Timed(inner.GetHypervisor(hypervisorType));

        public IAgent GetAgent(string agentType) => Timed(inner.GetAgent(agentType));

        public INetworkDriver GetNetwork(string interworkingModel) => Timed(inner.GetNetwork(interworkingModel));

        private T Timed<T>(T driver)
            where T : class
        {
            lock (_wrapped)
            {
                if (!_wrapped.TryGetValue(driver, out var proxy))
                {
                    proxy = clock.WrapInterface(driver);
                    _wrapped.Add(driver, proxy);
                }

                return (T)proxy;
            }
        }
    }
}

/// <summary>Times each call of an interface on a <see cref="DriverClock"/>: a task-returning call until its task ends.</summary>
/// <remarks>Public with a public constructor because <see cref="DispatchProxy"/> derives from it at run time.</remarks>
#pragma warning disable CA1852 // DispatchProxy.Create needs a type it can derive from
internal class TimedProxy<T> : DispatchProxy
#pragma warning restore CA1852
    where T : class
{
    private T? _inner;
    private DriverClock? _clock;

    internal void Bind(T inner, DriverClock clock)
    {
        _inner = inner;
        _clock = clock;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        var clock = _clock!;
        var call = new Call(clock, $"{typeof(T).Name}.{targetMethod.Name}", Stopwatch.GetTimestamp());
        clock.Enter();
        object? result;
        try
        {
            result = targetMethod.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            call.End();
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
        catch
        {
            call.End();
            throw;
        }

        switch (result)
        {
            case Task task:
                task.ContinueWith(static (_, state) => ((Call)state!).End(), call, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                return result;
            case ValueTask valueTask:
                var asTask = valueTask.AsTask();
                asTask.ContinueWith(static (_, state) => ((Call)state!).End(), call, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                return new ValueTask(asTask);
            default:
                if (result is not null && result.GetType().IsGenericType && result.GetType().GetGenericTypeDefinition() == typeof(ValueTask<>))
                {
                    // ValueTask<TResult>: time it through its task, and hand back a ValueTask over that task.
                    var resultTask = (Task)result.GetType().GetMethod(nameof(ValueTask<int>.AsTask))!.Invoke(result, null)!;
                    resultTask.ContinueWith(static (_, state) => ((Call)state!).End(), call, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                    return Activator.CreateInstance(result.GetType(), resultTask);
                }

                call.End();
                return result;
        }
    }

    private sealed record Call(DriverClock Clock, string Method, long Started)
    {
        public void End()
        {
            Clock.Record(Method, Stopwatch.GetTimestamp() - Started);
            Clock.Exit();
        }
    }
}
