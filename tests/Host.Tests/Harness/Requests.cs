using System.Text.Json;
using Grpc.Core;
using KataWorkflows.Protocol.V1;

namespace KataWorkflows.Host.Tests.Harness;

/// <summary>Sandbox calls as a client builds them: JSON arguments, the same JSON the CLI reads from files.</summary>
public static class Requests
{
    /// <summary>A configuration on the mock hypervisor, the noop agent and no interworking.</summary>
    public static object Config(string id, params string[] containers) => new
    {
        id,
        hypervisorType = "mock",
        agentType = "noop",
        hypervisorConfig = new { kernelPath = "/usr/share/kata/vmlinuz", imagePath = "/usr/share/kata/kata.img" },
        networkConfig = new { interworkingModel = "none" },
        containers = containers.Select(Container).ToArray(),
    };

    /// <summary>A container configuration.</summary>
    public static object Container(string id) => new { id, rootFs = $"/run/rootfs/{id}", cmd = new { args = new[] { "/bin/sh" } } };

    /// <summary>A call with arguments serialized to JSON.</summary>
    public static SandboxCall Call(string sandboxId, object? arguments = null, bool wait = true, string? requestId = null) => new()
    {
        SandboxId = sandboxId,
        Wait = wait,
        RequestId = requestId ?? string.Empty,
        ArgumentsJson = arguments is null ? string.Empty : JsonSerializer.Serialize(arguments),
    };

    /// <summary>CreateSandbox or RunSandbox.</summary>
    public static SandboxCall Create(string sandboxId, params string[] containers) => Call(sandboxId, new { config = Config(sandboxId, containers) });

    /// <summary>A call naming a container.</summary>
    public static SandboxCall OnContainer(string sandboxId, string containerId, object? extra = null) =>
        Call(sandboxId, extra is null ? new { containerId } : Merge(new { containerId }, extra));

    /// <summary>The sandbox state in a waited call's result, as the run produced it.</summary>
    public static string SandboxState(CallResult result) =>
        JsonDocument.Parse(result.ResultJson).RootElement.GetProperty("sandbox").GetProperty("state").GetString()!;

    /// <summary>The <see cref="CallFailure"/> a failed sandbox call carries in its <c>kwf-failure-bin</c> trailer.</summary>
    public static CallFailure Failure(RpcException ex)
    {
        var bytes = ex.Trailers.GetValueBytes("kwf-failure-bin");
        Assert.NotNull(bytes);
        return CallFailure.Parser.ParseFrom(bytes);
    }

    private static Dictionary<string, object?> Merge(object a, object b)
    {
        var merged = new Dictionary<string, object?>();
        foreach (var o in new[] { a, b })
        {
            foreach (var p in o.GetType().GetProperties())
            {
                merged[p.Name] = p.GetValue(o);
            }
        }

        return merged;
    }
}
