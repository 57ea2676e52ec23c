using System.Collections.Concurrent;
using System.Text.Json;
using Grpc.Core;
using KataWorkflows.Orchestrations.Sandboxes;
using KataWorkflows.Protocol.V1;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Chaos.Tests;

/// <summary>What every client of the soak saw, across host lives.</summary>
internal sealed class ClientLedger
{
    private readonly ConcurrentDictionary<string, int> _outcomes = new(StringComparer.Ordinal);

    /// <summary>Runs the host said it made (a reply, or an error that names the run): each must be in the store.</summary>
    public ConcurrentDictionary<string, string> Acknowledged { get; } = new(StringComparer.Ordinal);

    /// <summary>Replies a live host should never give (e.g. Internal on a read): the host life, the code, the call.</summary>
    public ConcurrentQueue<(int Life, StatusCode Code, string Call)> Unexpected { get; } = new();

    public int Calls => _outcomes.Values.Sum();

    public int Mutations { get; private set; }

    public void Count(string call, StatusCode code, bool mutation)
    {
        _outcomes.AddOrUpdate($"{call} {code}", 1, (_, n) => n + 1);
        if (mutation)
        {
            lock (_outcomes)
            {
                Mutations++;
            }
        }
    }

    public IReadOnlyDictionary<string, int> Outcomes => _outcomes;
}

/// <summary>
/// One client of the soak: random calls on random sandboxes of the pool, mutating and reading, until its token fires.
/// Its choices come from its own RNG (seeded from the soak's seed, the host life and the client's number), so a seed
/// replays the same call sequence per client; how the calls interleave is up to the machine.
/// </summary>
internal sealed class ChaosClient(int number, int life, Random rng, Sandboxes.SandboxesClient client, IReadOnlyList<string> sandboxes, ClientLedger ledger, Func<bool> hostDying)
{
    private static readonly (string Call, int Weight)[] Calls =
    [
        (Ops.RunSandbox, 12), (Ops.CreateSandbox, 8), (Ops.StartSandbox, 6), (Ops.StopSandbox, 8), (Ops.PauseSandbox, 5),
        (Ops.ResumeSandbox, 5), (Ops.DeleteSandbox, 10), (Ops.CreateContainer, 5), (Ops.StartContainer, 5), (Ops.StopContainer, 5),
        (Ops.KillContainer, 4), (Ops.EnterContainer, 4), (Ops.DeleteContainer, 4), (Ops.CleanupContainer, 6),
        ("status", 8), ("list", 3), ("statusContainer", 3), ("ps", 3),
    ];

    private static readonly int TotalWeight = Calls.Sum(c => c.Weight);
    private static readonly string[] ContainerIds = ["c1", "c2", "c3"];

    private int _sequence;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var call = Pick();
            var sandbox = sandboxes[rng.Next(sandboxes.Count)];
            var container = ContainerIds[rng.Next(ContainerIds.Length)];
            try
            {
                await CallAsync(call, sandbox, container, cancellationToken);
            }
            catch (Exception ex) when (cancellationToken.IsCancellationRequested && ex is OperationCanceledException or RpcException)
            {
                return;
            }
        }
    }

    private string Pick()
    {
        var roll = rng.Next(TotalWeight);
        foreach (var (call, weight) in Calls)
        {
            if ((roll -= weight) < 0)
            {
                return call;
            }
        }

        return Calls[^1].Call;
    }

    private async Task CallAsync(string call, string sandbox, string container, CancellationToken cancellationToken)
    {
        // A waited call on a sandbox that a hung run holds gives up after a while (the run goes on), so the client moves on.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var reference = new SandboxRef { SandboxId = sandbox, ContainerId = container };
        var mutation = !(call is "status" or "list" or "statusContainer" or "ps");
        var requestId = $"l{life}c{number}n{++_sequence}";
        try
        {
            switch (call)
            {
                case "status":
                    await client.StatusSandboxAsync(reference, deadline: deadline, cancellationToken: cancellationToken);
                    break;
                case "list":
                    var list = await client.ListSandboxAsync(new ListRequest(), deadline: deadline, cancellationToken: cancellationToken);
                    foreach (var json in list.SandboxesJson)
                    {
                        // A listed sandbox is a whole status document.
                        using var _ = JsonDocument.Parse(json);
                    }

                    break;
                case "statusContainer":
                    await client.StatusContainerAsync(reference, deadline: deadline, cancellationToken: cancellationToken);
                    break;
                case "ps":
                    await client.ProcessListContainerAsync(reference, deadline: deadline, cancellationToken: cancellationToken);
                    break;
                default:
                    var request = new SandboxCall
                    {
                        SandboxId = sandbox,
                        RequestId = requestId,
                        Wait = rng.NextDouble() < 0.75,
                        ArgumentsJson = JsonSerializer.Serialize(Arguments(call, sandbox, container)),
                    };
                    var reply = await Invoke(call, request, deadline, cancellationToken);
                    ledger.Acknowledged[reply.InstanceId] = call;
                    break;
            }

            ledger.Count(call, StatusCode.OK, mutation);
        }
        catch (RpcException ex) when (!cancellationToken.IsCancellationRequested || ex.StatusCode != StatusCode.Cancelled)
        {
            ledger.Count(call, ex.StatusCode, mutation);
            if (mutation && ex.Trailers.GetValueBytes("kwf-failure-bin") is { } bytes && CallFailure.Parser.ParseFrom(bytes) is { InstanceId.Length: > 0 } failure)
            {
                ledger.Acknowledged[failure.InstanceId] = call;
            }

            if (!Expected(ex.StatusCode, mutation) && !hostDying())
            {
                ledger.Unexpected.Enqueue((life, ex.StatusCode, $"{call} {sandbox}/{container} ({requestId}): {ex.StatusCode} {ex.Status.Detail}"));
            }
        }
    }

    // Unavailable, Cancelled and Internal (a connection reset mid-call) come from a host being killed; the rest are answers.
    private static bool Expected(StatusCode code, bool mutation) => code switch
    {
        StatusCode.NotFound or StatusCode.FailedPrecondition => true,
        StatusCode.AlreadyExists or StatusCode.Aborted or StatusCode.Unknown or StatusCode.DeadlineExceeded => mutation,
        _ => false,
    };

    private Task<CallResult> Invoke(string call, SandboxCall request, DateTime deadline, CancellationToken ct) => call switch
    {
        Ops.RunSandbox => client.RunSandboxAsync(request, deadline: deadline, cancellationToken: ct).ResponseAsync,
        Ops.CreateSandbox => client.CreateSandboxAsync(request, deadline: deadline, cancellationToken: ct).ResponseAsync,
        Ops.StartSandbox => client.StartSandboxAsync(request, deadline: deadline, cancellationToken: ct).ResponseAsync,
        Ops.StopSandbox => client.StopSandboxAsync(request, deadline: deadline, cancellationToken: ct).ResponseAsync,
        Ops.PauseSandbox => client.PauseSandboxAsync(request, deadline: deadline, cancellationToken: ct).ResponseAsync,
        Ops.ResumeSandbox => client.ResumeSandboxAsync(request, deadline: deadline, cancellationToken: ct).ResponseAsync,
        Ops.DeleteSandbox => client.DeleteSandboxAsync(request, deadline: deadline, cancellationToken: ct).ResponseAsync,
        Ops.CreateContainer => client.CreateContainerAsync(request, deadline: deadline, cancellationToken: ct).ResponseAsync,
        Ops.StartContainer => client.StartContainerAsync(request, deadline: deadline, cancellationToken: ct).ResponseAsync,
        Ops.StopContainer => client.StopContainerAsync(request, deadline: deadline, cancellationToken: ct).ResponseAsync,
        Ops.KillContainer => client.KillContainerAsync(request, deadline: deadline, cancellationToken: ct).ResponseAsync,
        Ops.EnterContainer => client.EnterContainerAsync(request, deadline: deadline, cancellationToken: ct).ResponseAsync,
        Ops.DeleteContainer => client.DeleteContainerAsync(request, deadline: deadline, cancellationToken: ct).ResponseAsync,
        Ops.CleanupContainer => client.CleanupContainerAsync(request, deadline: deadline, cancellationToken: ct).ResponseAsync,
        _ => throw new ArgumentOutOfRangeException(nameof(call), call, "not a soak call"),
    };

    private Dictionary<string, object?> Arguments(string call, string sandbox, string container)
    {
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);

        // Some calls bound each step, so a hung step ends in a compensation within the host's life.
        if (rng.NextDouble() < 0.3)
        {
            arguments["stepTimeout"] = "00:00:02";
        }

        switch (call)
        {
            case Ops.RunSandbox or Ops.CreateSandbox:
                arguments["config"] = new
                {
                    id = sandbox,
                    hypervisorType = "mock",
                    agentType = "noop",
                    hypervisorConfig = new { kernelPath = "/usr/share/kata/vmlinuz", imagePath = "/usr/share/kata/kata.img" },
                    networkConfig = new { interworkingModel = "none" },
                    containers = ContainerIds.Take(rng.Next(0, 3)).Select(Container).ToArray(),
                };
                break;
            case Ops.StopSandbox:
                arguments["force"] = rng.NextDouble() < 0.3;
                break;
            case Ops.CreateContainer:
                arguments["container"] = Container(container);
                break;
            case Ops.StopContainer or Ops.CleanupContainer:
                arguments["containerId"] = container;
                arguments["force"] = rng.NextDouble() < 0.3;
                break;
            case Ops.KillContainer:
                arguments["containerId"] = container;
                arguments["signal"] = rng.NextDouble() < 0.5 ? 9 : 15;
                arguments["all"] = rng.NextDouble() < 0.5;
                break;
            case Ops.EnterContainer:
                arguments["containerId"] = container;
                arguments["cmd"] = new { args = new[] { "/bin/true" } };
                break;
            case Ops.StartContainer or Ops.DeleteContainer:
                arguments["containerId"] = container;
                break;
        }

        return arguments;
    }

    private static object Container(string id) => new { id, rootFs = $"/run/rootfs/{id}", cmd = new { args = new[] { "/bin/sh" } } };
}
