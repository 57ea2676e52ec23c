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
    private int _inFlight;
    private long _since;
    private long _total;

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
    public T Wrap<T>(T inner)
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
                    proxy = clock.Wrap(driver);
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
        clock.Enter();
        object? result;
        try
        {
            result = targetMethod.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            clock.Exit();
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
        catch
        {
            clock.Exit();
            throw;
        }

        switch (result)
        {
            case Task task:
                task.ContinueWith(static (_, state) => ((DriverClock)state!).Exit(), clock, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                return result;
            case ValueTask valueTask:
                var asTask = valueTask.AsTask();
                asTask.ContinueWith(static (_, state) => ((DriverClock)state!).Exit(), clock, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                return new ValueTask(asTask);
            default:
                if (result is not null && result.GetType().IsGenericType && result.GetType().GetGenericTypeDefinition() == typeof(ValueTask<>))
                {
                    // ValueTask<TResult>: time it through its task, and hand back a ValueTask over that task.
                    var resultTask = (Task)result.GetType().GetMethod(nameof(ValueTask<int>.AsTask))!.Invoke(result, null)!;
                    resultTask.ContinueWith(static (_, state) => ((DriverClock)state!).Exit(), clock, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                    return Activator.CreateInstance(result.GetType(), resultTask);
                }

                clock.Exit();
                return result;
        }
    }
}
