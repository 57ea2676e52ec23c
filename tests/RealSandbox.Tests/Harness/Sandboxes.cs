using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataWorkflows.RealSandbox.Tests.Harness;

/// <summary>Sandbox configs and kwf calls the tests share.</summary>
public static class Sandboxes
{
    /// <summary>The guest kernel's release, from the image's manifest (what <c>uname -r</c> prints in the guest).</summary>
    public static string GuestKernel => File.ReadAllLines(Path.Join(RealParts.GuestImage, "manifest"))
        .Single(l => l.StartsWith("kernel_version=", StringComparison.Ordinal))["kernel_version=".Length..];

    /// <summary>
    /// Writes a SandboxConfig file that names only the id and its containers: the drivers, the kernel, the initrd and
    /// the memory come from the host's defaults. Each container runs <c>sleep 3600</c> on a rootfs copy of its own.
    /// </summary>
    public static async Task<string> ConfigFileAsync(RealSite site, string sandboxId, params string[] containers)
    {
        var list = new JsonArray();
        foreach (var container in containers)
        {
            list.Add(await ContainerAsync(site, sandboxId, container));
        }

        var path = Path.Join(site.Directory, $"{sandboxId}.json");
        await File.WriteAllTextAsync(path, new JsonObject { ["id"] = sandboxId, ["containers"] = list }.ToJsonString(), TestContext.Current.CancellationToken);
        return path;
    }

    /// <summary>A ContainerConfig running <c>sleep 3600</c> on a fresh rootfs copy.</summary>
    public static async Task<JsonObject> ContainerAsync(RealSite site, string sandboxId, string container) => new()
    {
        ["id"] = container,
        ["rootFs"] = await site.RootfsAsync($"{sandboxId}-{container}"),
        ["cmd"] = new JsonObject { ["args"] = new JsonArray("/bin/sleep", "3600") },
    };

    /// <summary>A mutating kwf call with --json that must complete; returns its result (a SandboxOperationResult).</summary>
    public static async Task<JsonNode> CallAsync(RealSite site, params string[] args)
    {
        var result = await site.KwfAsync(["--json", .. args]);
        Assert.True(result.Exit == 0, $"kwf {string.Join(' ', args)} did not complete:\n{result}\n{site.ConsoleTails()}");
        var reply = JsonNode.Parse(result.Stdout)!;
        Assert.Equal("Completed", reply["status"]?.GetValue<string>());
        return reply["result"]!;
    }

    /// <summary>A sandbox's state as kwf sandbox status reports it (lower case).</summary>
    public static async Task<string> StateAsync(RealSite site, string sandboxId) =>
        (await site.KwfJsonAsync("sandbox", "status", sandboxId))!["state"]!.GetValue<string>().ToLowerInvariant();

    /// <summary>A container's state as kwf container status reports it (lower case).</summary>
    public static async Task<string> ContainerStateAsync(RealSite site, string sandboxId, string container) =>
        (await site.KwfJsonAsync("container", "status", sandboxId, container))!["state"]!.GetValue<string>().ToLowerInvariant();

    /// <summary>Runs a command in a container and waits for it: its exit status and stdout.</summary>
    public static async Task<(int Status, string Stdout, string Stderr)> ExecAsync(RealSite site, string sandboxId, string container, params string[] command)
    {
        var result = await CallAsync(site, ["container", "exec", "--wait", sandboxId, container, "--", .. command]);
        var process = result["process"]!;
        return (process["exitStatus"]!.GetValue<int>(), process["stdout"]?.GetValue<string>() ?? "", process["stderr"]?.GetValue<string>() ?? "");
    }

    /// <summary>The process list of a container (kwf container ps) as text.</summary>
    public static async Task<string> PsAsync(RealSite site, string sandboxId, string container) =>
        (await site.KwfJsonAsync("container", "ps", sandboxId, container))!.ToJsonString();

    /// <summary>JSON for a message.</summary>
    public static string Show(JsonNode? node) => node?.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) ?? "null";
}
