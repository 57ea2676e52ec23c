using System.Collections.Concurrent;

namespace KataWorkflows.Orchestrations.Tests.Harness;

/// <summary>
/// The driver calls the activities made, as <c>"driver.call sandbox [container] [detail]"</c> lines, for the calls whose
/// effect the mock hypervisor and the noop agent do not keep (start, signal, exec, update...). A test can also arm a
/// driver failure once a sandbox is set up, which the activity fault rules (counted from the process start) cannot.
/// </summary>
public sealed class DriverCalls
{
    private readonly ConcurrentQueue<string> _calls = new();
    private readonly Lock _sync = new();
    private readonly Dictionary<string, int> _armed = new(StringComparer.Ordinal);

    /// <summary>Every call so far, in order.</summary>
    public IReadOnlyList<string> All => [.. _calls];

    /// <summary>The calls about one sandbox.</summary>
    public IReadOnlyList<string> Of(string sandboxId) => [.. _calls.Where(c => c.Split(' ')[1] == sandboxId)];

    /// <summary>The calls about one sandbox that start with <paramref name="prefix"/>.</summary>
    public IReadOnlyList<string> Of(string sandboxId, string prefix) => [.. Of(sandboxId).Where(c => c.StartsWith(prefix, StringComparison.Ordinal))];

    /// <summary>Makes the next <paramref name="times"/> calls starting with <paramref name="prefix"/> fail (0: every one).</summary>
    public void Fail(string prefix, int times = 0)
    {
        lock (_sync)
        {
            _armed[prefix] = times == 0 ? int.MaxValue : times;
        }
    }

    /// <summary>Records a call, and fails it when a failure is armed for it.</summary>
    /// <exception cref="InvalidOperationException">A failure is armed for the call.</exception>
    public void Add(string call)
    {
        _calls.Enqueue(call);
        lock (_sync)
        {
            foreach (var (prefix, left) in _armed)
            {
                if (left > 0 && call.StartsWith(prefix, StringComparison.Ordinal))
                {
                    _armed[prefix] = left == int.MaxValue ? left : left - 1;
                    throw new InvalidOperationException($"armed driver failure at '{call}'");
                }
            }
        }
    }
}
