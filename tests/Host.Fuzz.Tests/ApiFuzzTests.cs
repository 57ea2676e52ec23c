using System.Text;
using Google.Protobuf.Reflection;
using KataWorkflows.Host.Fuzz.Tests.Harness;
using KataWorkflows.Protocol.V1;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Host.Fuzz.Tests;

/// <summary>
/// Every method of <c>kataworkflows.v1.Sandboxes</c> and of <c>TaskHubSidecarService</c>, on the real host over its
/// Unix socket, gets malformed, truncated, oversized and random requests and bad field values. Each answer is a clear
/// status within a bound, the host stays alive and healthy, and the sandboxes and runs stored before are intact.
/// </summary>
public sealed class ApiFuzzTests
{
    public static TheoryData<string> Services => ["kataworkflows.v1.Sandboxes", "TaskHubSidecarService"];

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Every_method_answers_bad_requests_with_a_clear_status_and_the_store_stays_intact(string service)
    {
        var settings = FuzzSettings.FromEnvironment();
        var output = new List<string> { $"API fuzz of {service}: {settings}" };
        var ct = TestContext.Current.CancellationToken;
        await using var host = await FuzzHost.StartAsync(ct);
        var seeded = await SeededStore.CreateAsync(host, ct);
        var before = await seeded.CaptureAsync(host, ct);

        var fuzzer = new ApiFuzzer(host, settings, seeded.ReadableIds);
        var reports = new List<MethodReport>();
        foreach (var method in Methods(service))
        {
            var report = await fuzzer.RunAsync(method, DestroysSeededData, ct);
            reports.Add(report);
            output.Add(report.ToString());
            if (report.HostFailure is not null)
            {
                break;
            }
        }

        var after = host.HasExited ? null : await seeded.CaptureAsync(host, ct);
        var violations = reports.SelectMany(r => r.Violations).ToList();
        output.Add($"{reports.Count} methods, {reports.Sum(r => r.Sent)} requests, {violations.Count} violations; statuses: "
            + string.Join(' ', reports.SelectMany(r => r.Statuses).GroupBy(s => s.Key).OrderBy(g => g.Key).Select(g => $"{g.Key}={g.Sum(s => s.Value)}")));
        var differences = after is null ? ["the host exited"] : SeededStore.Differences(before, after);
        output.Add(differences.Count == 0 ? $"store intact: {before.Count} answers about {seeded.Sandboxes.Count} sandboxes and {seeded.Instances.Count} runs byte-identical" : "store changed");
        output.AddRange(violations);
        Report(string.Join('\n', output));

        Assert.True(violations.Count == 0, $"{violations.Count} answers broke an oracle ({settings}):\n" + string.Join('\n', violations.Take(40)) + $"\nhost log:\n{Tail(host.Log)}");
        Assert.True(differences.Count == 0, "the seeded data changed:\n" + string.Join('\n', differences));
        Assert.Null(await host.CheckHealthAsync(ct));
        Assert.Equal(Methods(service).Count, reports.Count);
    }

    internal static IReadOnlyList<RawMethod> Methods(string service) =>
    [
        .. (service == "TaskHubSidecarService"
            ? OrchestratorServiceReflection.Descriptor.Services.Single(s => s.Name == service)
            : SandboxesReflection.Descriptor.Services.Single(s => s.FullName == service)).Methods.Select(RawMethod.Of),
    ];

    /// <summary>A well-formed purge by filter deletes every run it matches, the seeded ones too: it is not sent.</summary>
    private static bool DestroysSeededData(RawMethod method, byte[] request)
    {
        if (method.Name != "PurgeInstances")
        {
            return false;
        }

        try
        {
            return PurgeInstancesRequest.Parser.ParseFrom(request).RequestCase == PurgeInstancesRequest.RequestOneofCase.PurgeInstanceFilter;
        }
        catch (Exception ex) when (ex is Google.Protobuf.InvalidProtocolBufferException or DecoderFallbackException)
        {
            return false;
        }
    }

    internal static void Report(string text)
    {
        TestContext.Current.TestOutputHelper?.WriteLine(text);
        if (Environment.GetEnvironmentVariable("KATA_FUZZ_REPORT") is { Length: > 0 } path)
        {
            File.AppendAllText(path, text + "\n");
        }
    }

    private static string Tail(string log) => log.Length > 6000 ? "…" + log[^6000..] : log;
}
