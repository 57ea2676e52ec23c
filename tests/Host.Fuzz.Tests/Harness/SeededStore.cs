using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using KataWorkflows.Protocol.V1;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Host.Fuzz.Tests.Harness;

/// <summary>
/// Sandboxes and runs made before the fuzzing, through the API, and what the API says about them: their records,
/// statuses, entity state, instances and histories, as the bytes the host sent. The fuzzer may read them but never
/// names them in a call that changes anything; afterwards every byte must be the same.
/// </summary>
internal sealed class SeededStore
{
    private readonly List<(string Sandbox, string Container)> _containers = [];
    private readonly List<string> _instances = [];

    private SeededStore(IReadOnlyList<string> sandboxes) => Sandboxes = sandboxes;

    public IReadOnlyList<string> Sandboxes { get; }

    public IReadOnlyList<string> Instances => _instances;

    /// <summary>The ids the read-only methods may be given: sandboxes, containers, entities and runs.</summary>
    public IReadOnlyList<string> ReadableIds =>
        [.. Sandboxes, .. Sandboxes.Select(s => "@sandbox@" + s), .. _containers.Select(c => c.Container), .. _instances];

    /// <summary>
    /// keep-run (running, two containers, one of them stopped), keep-paused (running, then paused), keep-stopped (run then
    /// stopped), one failed run (a container that does not exist), and the sandboxes the fuzzer owns.
    /// </summary>
    public static async Task<SeededStore> CreateAsync(FuzzHost host, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        var seed = new SeededStore(["keep-run", "keep-paused", "keep-stopped"]);
        var client = new Sandboxes.SandboxesClient(host.Channel);
        async Task Call(Func<SandboxCall, CallOptions, AsyncUnaryCall<CallResult>> method, string sandbox, object? arguments = null)
        {
            var call = new SandboxCall { SandboxId = sandbox, Wait = true, ArgumentsJson = arguments is null ? string.Empty : JsonSerializer.Serialize(arguments) };
            var result = await method(call, new CallOptions(cancellationToken: cancellationToken));
            Assert.True(result.Status == "Completed", $"seeding {sandbox}: {result}");
            seed._instances.Add(result.InstanceId);
        }

        await Call(client.RunSandboxAsync, "keep-run", new { config = Config("keep-run", "c1", "c2") });
        await Call(client.StopContainerAsync, "keep-run", new { containerId = "c2" });
        await Call(client.RunSandboxAsync, "keep-paused", new { config = Config("keep-paused", "c1") });
        await Call(client.PauseSandboxAsync, "keep-paused");
        await Call(client.RunSandboxAsync, "keep-stopped", new { config = Config("keep-stopped") });
        await Call(client.StopSandboxAsync, "keep-stopped");
        seed._containers.AddRange([("keep-run", "c1"), ("keep-run", "c2"), ("keep-paused", "c1")]);

        // A run that failed is part of the store too.
        var failed = await Assert.ThrowsAsync<RpcException>(async () => await client.StartContainerAsync(
            new SandboxCall { SandboxId = "keep-run", Wait = true, ArgumentsJson = "{\"containerId\":\"ghost\"}" }, cancellationToken: cancellationToken));
        if (CallFailure.Parser.ParseFrom(failed.Trailers.GetValueBytes("kwf-failure-bin")) is { InstanceId.Length: > 0 } failure)
        {
            seed._instances.Add(failure.InstanceId);
        }

        // What the fuzzer may change: a running sandbox with a container, a stopped one.
        await client.RunSandboxAsync(new SandboxCall { SandboxId = "fz-live", Wait = true, ArgumentsJson = JsonSerializer.Serialize(new { config = Config("fz-live", "c1") }) }, cancellationToken: cancellationToken);
        await client.RunSandboxAsync(new SandboxCall { SandboxId = "fz-stopped", Wait = true, ArgumentsJson = JsonSerializer.Serialize(new { config = Config("fz-stopped") }) }, cancellationToken: cancellationToken);
        await client.StopSandboxAsync(new SandboxCall { SandboxId = "fz-stopped", Wait = true }, cancellationToken: cancellationToken);
        return seed;
    }

    /// <summary>Everything the API says about the seeded sandboxes and runs, by what was asked.</summary>
    public async Task<SortedDictionary<string, ByteString>> CaptureAsync(FuzzHost host, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        var sandboxes = new Sandboxes.SandboxesClient(host.Channel);
        var sidecar = new TaskHubSidecarService.TaskHubSidecarServiceClient(host.Channel);
        var snapshot = new SortedDictionary<string, ByteString>(StringComparer.Ordinal);
        var listed = await sandboxes.ListSandboxAsync(new ListRequest(), cancellationToken: cancellationToken);
        foreach (var id in Sandboxes)
        {
            snapshot[$"StatusSandbox {id}"] = (await sandboxes.StatusSandboxAsync(new SandboxRef { SandboxId = id }, cancellationToken: cancellationToken)).ToByteString();
            snapshot[$"ListSandbox entry {id}"] = ByteString.CopyFromUtf8(
                listed.SandboxesJson.SingleOrDefault(j => JsonDocument.Parse(j).RootElement.GetProperty("id").GetString() == id) ?? "(not listed)");
            snapshot[$"GetEntity @sandbox@{id}"] = (await sidecar.GetEntityAsync(
                new GetEntityRequest { InstanceId = "@sandbox@" + id, IncludeState = true }, cancellationToken: cancellationToken)).ToByteString();
        }

        foreach (var (sandbox, container) in _containers)
        {
            snapshot[$"StatusContainer {sandbox}/{container}"] = (await sandboxes.StatusContainerAsync(
                new SandboxRef { SandboxId = sandbox, ContainerId = container }, cancellationToken: cancellationToken)).ToByteString();
        }

        foreach (var id in _instances)
        {
            snapshot[$"GetInstance {id}"] = (await sidecar.GetInstanceAsync(
                new GetInstanceRequest { InstanceId = id, GetInputsAndOutputs = true }, cancellationToken: cancellationToken)).ToByteString();
            using var history = sidecar.StreamInstanceHistory(new StreamInstanceHistoryRequest { InstanceId = id }, cancellationToken: cancellationToken);
            var chunks = new List<byte>();
            while (await history.ResponseStream.MoveNext(cancellationToken))
            {
                chunks.AddRange(history.ResponseStream.Current.ToByteArray());
            }

            snapshot[$"StreamInstanceHistory {id}"] = ByteString.CopyFrom([.. chunks]);
        }

        return snapshot;
    }

    /// <summary>What differs between two captures, one line per entry, with both sides.</summary>
    public static IReadOnlyList<string> Differences(SortedDictionary<string, ByteString> before, SortedDictionary<string, ByteString> after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var differences = new List<string>();
        foreach (var key in before.Keys.Union(after.Keys))
        {
            var was = before.GetValueOrDefault(key);
            var now = after.GetValueOrDefault(key);
            if (was is null || now is null || !was.Span.SequenceEqual(now.Span))
            {
                differences.Add($"{key}:\n  before {Show(was)}\n  after  {Show(now)}");
            }
        }

        return differences;
    }

    private static string Show(ByteString? bytes) =>
        bytes is null ? "(missing)" : $"{bytes.Length} bytes {Convert.ToHexString(bytes.Span[..Math.Min(bytes.Length, 200)])}";

    public static object Config(string id, params string[] containers) => new
    {
        id,
        hypervisorType = "mock",
        agentType = "noop",
        hypervisorConfig = new { kernelPath = "/usr/share/kata/vmlinuz", imagePath = "/usr/share/kata/kata.img" },
        networkConfig = new { interworkingModel = "none" },
        containers = containers.Select(c => new { id = c, rootFs = $"/run/rootfs/{c}", cmd = new { args = new[] { "/bin/sh" } } }).ToArray(),
    };
}
