using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Faults;

/// <summary>
/// Applies the configured <see cref="FaultRule"/>s. Every sandbox activity passes through it before and after its
/// work (<see cref="InjectAsync"/>), and every driver call inside an activity passes through
/// <see cref="InjectDriverError"/>. A rule's count is kept per process and is thread-safe; the first matching rule
/// that still has strikes left applies.
/// </summary>
public sealed class FaultInjector
{
    private readonly ArmedRule[] _rules;
    private readonly ILogger _logger;

    /// <summary>Creates the injector.</summary>
    /// <exception cref="FormatException">The options' spec has a bad rule.</exception>
    public FaultInjector(IOptions<FaultInjectionOptions> options, ILogger<FaultInjector> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _rules = options.Value.AllRules().Select(r => new ArmedRule(r)).ToArray();
        _logger = logger;
    }

    /// <summary>True when there is at least one rule.</summary>
    public bool Enabled => _rules.Length > 0;

    /// <summary>The rules, in the order they are tried.</summary>
    public IReadOnlyList<FaultRule> Rules => _rules.Select(r => r.Rule).ToList();

    /// <summary>Kills the process; tests replace it to observe the kill without dying.</summary>
    internal Action KillProcess { get; set; } = KillCurrentProcess;

    /// <summary>
    /// Raised when a rule strikes, before its fault takes effect: a hang then waits, a fail throws, a kill ends the
    /// process. A rule that has struck has spent one of its <see cref="FaultRule.Times"/>; an activity stopped before
    /// it reached the rule's point did not spend it, and the rule strikes in the activity's next run instead (in this
    /// process, or, for a rule configured again, in the next one).
    /// </summary>
    public event EventHandler<FaultStrike>? Struck;

    /// <summary>How many times a rule matched so far (struck or not).</summary>
    public int Matches(FaultRule rule) => _rules.FirstOrDefault(r => ReferenceEquals(r.Rule, rule))?.Count ?? 0;

    /// <summary>
    /// Applies the first <see cref="FaultMode.Fail"/>, <see cref="FaultMode.Hang"/> or
    /// <see cref="FaultMode.KillProcess"/> rule that strikes for this activity, sandbox and point.
    /// </summary>
    /// <exception cref="InjectedFaultException">A fail rule struck.</exception>
    /// <exception cref="OperationCanceledException">A hang rule struck and the token fired.</exception>
    public async Task InjectAsync(string step, string? sandboxId, FaultPoint point, CancellationToken cancellationToken)
    {
        if (!Strike(step, sandboxId, point, driver: false, out var armed, out var occurrence))
        {
            return;
        }

        var rule = armed.Rule;
        var where = Describe(step, armed, occurrence);
        Log.FaultInjected(_logger, FaultRule.ModeToken(rule.Mode), step, point, sandboxId ?? string.Empty, where);
        Struck?.Invoke(this, new FaultStrike(rule, step, sandboxId, point, occurrence));
        switch (rule.Mode)
        {
            case FaultMode.Hang:
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
                break;
            case FaultMode.KillProcess:
                Log.KillingProcess(_logger, step, point, sandboxId ?? string.Empty);
                Console.Out.Flush();
                Console.Error.Flush();
                KillProcess();

                // Reached only when a test replaced the kill: the activity must not report success either way.
                throw new InjectedFaultException(step, $"injected process kill at {where} (the kill was intercepted)");
            default:
                throw new InjectedFaultException(step, $"injected fault at {where}");
        }
    }

    /// <summary>Throws when a <see cref="FaultMode.DriverError"/> rule strikes for this activity, sandbox and point.</summary>
    /// <exception cref="InjectedFaultException">A driver-error rule struck.</exception>
    public void InjectDriverError(string step, string? sandboxId, FaultPoint point)
    {
        if (Strike(step, sandboxId, point, driver: true, out var armed, out var occurrence))
        {
            var where = Describe(step, armed, occurrence);
            Log.FaultInjected(_logger, FaultRule.ModeToken(armed.Rule.Mode), step, point, sandboxId ?? string.Empty, where);
            Struck?.Invoke(this, new FaultStrike(armed.Rule, step, sandboxId, point, occurrence));
            throw new InjectedFaultException(step, $"injected driver error at {where}");
        }
    }

    private bool Strike(string step, string? sandboxId, FaultPoint point, bool driver, out ArmedRule armed, out int occurrence)
    {
        foreach (var candidate in _rules)
        {
            var rule = candidate.Rule;
            if ((rule.Mode == FaultMode.DriverError) != driver
                || rule.When != point
                || !string.Equals(rule.Step, step, StringComparison.OrdinalIgnoreCase)
                || (!string.IsNullOrEmpty(rule.SandboxId) && !string.Equals(rule.SandboxId, sandboxId, StringComparison.Ordinal)))
            {
                continue;
            }

            var n = candidate.Increment() - rule.Skip;
            if (n >= 1 && (rule.Times == 0 || n <= rule.Times))
            {
                armed = candidate;
                occurrence = n;
                return true;
            }
        }

        armed = null!;
        occurrence = 0;
        return false;
    }

    private static string Describe(string step, ArmedRule armed, int occurrence) =>
        armed.Rule.Times == 0 ? $"{step} ({occurrence}, every time)" : $"{step} ({occurrence} of {armed.Rule.Times})";

    private static void KillCurrentProcess()
    {
        using var self = Process.GetCurrentProcess();
        self.Kill();
    }

    private sealed class ArmedRule(FaultRule rule)
    {
        private int _count;

        public FaultRule Rule { get; } = rule;

        public int Count => Volatile.Read(ref _count);

        public int Increment() => Interlocked.Increment(ref _count);
    }
}
