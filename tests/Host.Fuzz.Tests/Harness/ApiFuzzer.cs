using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Google.Protobuf.Reflection;
using Grpc.Core;

namespace KataWorkflows.Host.Fuzz.Tests.Harness;

/// <summary>
/// Sends every method its batch of fuzzed requests (a few at a time) and judges each answer: a clear status within a
/// bound, a message that says what is wrong without a stack trace, a response that parses. After each method's batch
/// the host must still be alive and healthy.
/// </summary>
internal sealed partial class ApiFuzzer
{
    /// <summary>How long a call that should answer at once may take before it counts as a hang.</summary>
    public static readonly TimeSpan AnswerBound = TimeSpan.FromSeconds(15);

    /// <summary>How long a call that waits (for a run, a start, a work item) is given before the client stops it.</summary>
    public static readonly TimeSpan WaitBound = TimeSpan.FromSeconds(0.5);

    /// <summary>A status message longer than this echoes the input back.</summary>
    public const int MaxDetailLength = 4096;

    private static readonly HashSet<StatusCode> Clear =
    [
        StatusCode.OK, StatusCode.InvalidArgument, StatusCode.NotFound, StatusCode.AlreadyExists, StatusCode.FailedPrecondition,
        StatusCode.OutOfRange, StatusCode.ResourceExhausted, StatusCode.Unimplemented, StatusCode.Aborted,
    ];

    private readonly FuzzHost _host;
    private readonly FuzzSettings _settings;
    private readonly IReadOnlyList<string> _readableIds;

    public ApiFuzzer(FuzzHost host, FuzzSettings settings, IReadOnlyList<string> readableIds)
    {
        _host = host;
        _settings = settings;
        _readableIds = readableIds;
    }

    /// <summary>Methods that only read: they may name the seeded sandboxes and runs, which no other call may touch.</summary>
    public static readonly HashSet<string> ReadOnly =
    [
        "StatusSandbox", "ListSandbox", "StatsSandbox", "StatusContainer", "StatsContainer", "ProcessListContainer", "ListInterfaces",
        "ListRoutes", "WatchRun", "Hello", "GetInstance", "WaitForInstanceStart", "WaitForInstanceCompletion", "QueryInstances",
        "ListInstanceIds", "StreamInstanceHistory", "GetEntity", "QueryEntities",
    ];

    /// <summary>Methods that wait for something by design; the client's deadline ends them.</summary>
    public static readonly HashSet<string> Waits = ["WaitForInstanceStart", "WaitForInstanceCompletion", "WatchRun", "GetWorkItems"];

    /// <summary>
    /// Fuzzes one method. <paramref name="skip"/> says which well-formed requests would legitimately destroy the seeded
    /// data (a purge by filter): those are counted and not sent.
    /// </summary>
    public async Task<MethodReport> RunAsync(RawMethod method, Func<RawMethod, byte[], bool> skip, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(skip);
        var fuzzer = new MessageFuzzer(_settings.RandomFor(method.ToString()), ReadOnly.Contains(method.Name) ? _readableIds : []);
        var inputs = Enumerable.Range(0, _settings.Iterations).Select(i => (Index: i, Input: fuzzer.Next(method.Input!, i))).ToList();
        var report = new MethodReport(method);
        await Parallel.ForEachAsync(
            inputs,
            new ParallelOptions { MaxDegreeOfParallelism = _settings.Parallel, CancellationToken = cancellationToken },
            async (item, ct) =>
            {
                if (skip(method, item.Input.Bytes))
                {
                    report.Skipped();
                    return;
                }

                var waits = Waits.Contains(method.Name);
                var outcome = await _host.Raw.CallAsync(method, item.Input.Bytes, waits ? WaitBound : AnswerBound, ct);
                report.Add(item.Input, outcome, Judge(method, waits, outcome), item.Index);
            });

        if (await _host.CheckHealthAsync(cancellationToken) is { } unhealthy)
        {
            report.HostFailed(unhealthy);
        }

        return report;
    }

    /// <summary>What is wrong with an answer, or null when it is a clear one.</summary>
    public static string? Judge(RawMethod method, bool waits, CallOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(outcome);
        if (outcome.Status == StatusCode.DeadlineExceeded)
        {
            return waits ? null : $"no answer within {AnswerBound.TotalSeconds} s (a hang)";
        }

        // A terminated run is Cancelled; only a sandbox call's run can be terminated under it.
        var clear = Clear.Contains(outcome.Status) || (outcome.Status == StatusCode.Cancelled && method.Service == "kataworkflows.v1.Sandboxes");
        if (!clear)
        {
            return $"status {outcome.Status}" + (outcome.ClientException is { } client ? $" ({client.GetType().Name}: {client.Message})" : string.Empty);
        }

        if (outcome.Status == StatusCode.OK)
        {
            foreach (var response in outcome.Responses)
            {
                try
                {
                    method.Output!.Parser.ParseFrom(response);
                }
                catch (Google.Protobuf.InvalidProtocolBufferException ex)
                {
                    return $"the response is not a valid {method.Output!.Name}: {ex.Message}";
                }
            }

            return null;
        }

        // The Sandboxes service sends its CallFailure with every error (sandboxes.proto).
        if (method.Service == "kataworkflows.v1.Sandboxes" && outcome.Status != StatusCode.ResourceExhausted
            && outcome.Trailers?.GetValueBytes("kwf-failure-bin") is null)
        {
            return $"no kwf-failure-bin trailer with {outcome.Status}: {outcome.Detail}";
        }

        var detail = outcome.Detail;
        if (string.IsNullOrWhiteSpace(detail))
        {
            return $"status {outcome.Status} with no message";
        }

        if (detail.Length > MaxDetailLength)
        {
            return $"a message of {detail.Length} characters (it echoes the input)";
        }

        if (StackTrace().IsMatch(detail))
        {
            return "a stack trace in the message";
        }

        // InvalidArgument names what is wrong: "field: why" (docs/operations.md), or at least a field of the request.
        return outcome.Status == StatusCode.InvalidArgument && !detail.Contains(':', StringComparison.Ordinal)
            && !FieldNames(method.Input!).Any(name => detail.Contains(name, StringComparison.OrdinalIgnoreCase))
            ? "InvalidArgument that names no field"
            : null;
    }

    /// <summary>Every field name of a request, nested ones included, and the argument names a sandbox call's JSON has.</summary>
    private static IEnumerable<string> FieldNames(MessageDescriptor message, int depth = 0)
    {
        string[] arguments = ["config", "containerId", "container", "signal", "cmd", "resources", "interface", "routes", "device", "stepTimeout", "requestId"];
        return message.Fields.InFieldNumberOrder()
            .SelectMany(f => f.FieldType == FieldType.Message && depth < 3 ? [f.Name, f.JsonName, .. FieldNames(f.MessageType, depth + 1)] : new[] { f.Name, f.JsonName })
            .Concat(depth == 0 ? arguments : [])
            .Where(n => n.Length >= 3);
    }

    [GeneratedRegex(@"(^|\n)\s*at [\w.`<>\[\]]+\(|--->|\bSystem\.\w+Exception\b|\bUnhandled exception\b", RegexOptions.CultureInvariant)]
    private static partial Regex StackTrace();
}

/// <summary>What one method's batch did: statuses and input kinds counted, every answer that broke an oracle.</summary>
internal sealed class MethodReport
{
    private readonly ConcurrentDictionary<StatusCode, int> _statuses = new();
    private readonly ConcurrentDictionary<string, int> _kinds = new();
    private readonly ConcurrentQueue<string> _violations = new();
    private long _maxTicks;
    private int _sent;
    private int _skipped;

    public MethodReport(RawMethod method) => Method = method;

    public RawMethod Method { get; }

    public int Sent => _sent;

    public int SkippedCount => _skipped;

    public TimeSpan Slowest => TimeSpan.FromTicks(Interlocked.Read(ref _maxTicks));

    public IReadOnlyDictionary<StatusCode, int> Statuses => _statuses;

    public IReadOnlyDictionary<string, int> Kinds => _kinds;

    public IReadOnlyCollection<string> Violations => _violations;

    public string? HostFailure { get; private set; }

    public void Add(FuzzInput input, CallOutcome outcome, string? violation, int index)
    {
        Interlocked.Increment(ref _sent);
        _statuses.AddOrUpdate(outcome.Status, 1, (_, n) => n + 1);
        _kinds.AddOrUpdate(input.Kind, 1, (_, n) => n + 1);
        var ticks = outcome.Elapsed.Ticks;
        for (var seen = Interlocked.Read(ref _maxTicks); ticks > seen; seen = Interlocked.Read(ref _maxTicks))
        {
            if (Interlocked.CompareExchange(ref _maxTicks, ticks, seen) == seen)
            {
                break;
            }
        }

        if (violation is not null)
        {
            var detail = outcome.Detail.Length > 300 ? outcome.Detail[..300] + "…" : outcome.Detail;
            _violations.Enqueue($"{Method} input #{index} ({input.Kind}, {input.Preview}): {violation}; {outcome.Status} after {outcome.Elapsed.TotalMilliseconds:F0} ms: {detail}");
        }
    }

    public void Skipped() => Interlocked.Increment(ref _skipped);

    public void HostFailed(string why)
    {
        HostFailure = why;
        _violations.Enqueue($"{Method}: after its batch {why}");
    }

    public override string ToString() =>
        $"{Method.Name,-38} sent {Sent,4}" + (SkippedCount > 0 ? $" (+{SkippedCount} skipped)" : string.Empty)
        + $"  slowest {Slowest.TotalMilliseconds,6:F0} ms  "
        + string.Join(' ', Statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}={s.Value}"));
}
