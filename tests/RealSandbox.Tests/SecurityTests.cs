using System.Text.Json.Nodes;
using KataWorkflows.RealSandbox.Tests.Harness;

namespace KataWorkflows.RealSandbox.Tests;

/// <summary>
/// Config values that try to add options to QEMU's command line or to reach outside the run directory are refused by
/// the real host with an error that names the field, and nothing is started or left for them.
/// </summary>
public sealed class SecurityTests
{
    public static TheoryData<string, string, string> Hostile() => new()
    {
        // field path in the config, JSON value, what the error must name
        { "hypervisorConfig.kernelPath", "\"/tmp/x,if=none -device virtio-net-pci\"", "kernelPath" },
        { "hypervisorConfig.kernelPath", "\"relative/vmlinuz\"", "kernelPath" },
        { "hypervisorConfig.kernelPath", "\"/nonexistent/kwf/vmlinuz\"", "kernelPath" },
        { "hypervisorConfig.initrdPath", "\"/nonexistent/initrd.gz\"", "initrdPath" },
        { "hypervisorConfig.imagePath", "\"/tmp/a.img,format=raw,file.locking=off\"", "imagePath" },
        { "hypervisorConfig.kernelParams", "\"quiet\\n-device virtio-9p-pci,fsdev=host\"", "kernelParams" },
        { "hypervisorConfig.hypervisorPath", "\"/bin/sh\"", "hypervisorPath" },
        { "hypervisorConfig.memorySizeMiB", "1048576", "memorySizeMiB" },
        { "hypervisorConfig.numVCpus", "200", "numVCpus" },
        { "networkConfig.netNsPath", "\"/run/netns/../../proc/1/ns/net\"", "netNsPath" },
        { "id", "\"../../etc\"", "id" },
        { "containers.0.id", "\"../../escape\"", "containers[0].id" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task A_config_value_that_would_inject_an_option_or_escape_is_refused_naming_the_field(string field, string json, string named)
    {
        RealParts.Require();
        await using var site = new RealSite("sec");
        await using var host = await RealHost.StartAsync(site);
        var id = site.NewSandboxId("sec");
        var config = new JsonObject { ["id"] = id, ["containers"] = new JsonArray(await Sandboxes.ContainerAsync(site, id, "c1")) };
        var parts = field.Split('.');
        JsonNode parent = config;
        foreach (var part in parts[..^1])
        {
            parent = int.TryParse(part, out var index) ? parent[index]! : (parent[part] ??= new JsonObject());
        }

        parent[parts[^1]] = JsonNode.Parse(json);
        var file = Path.Join(site.Directory, "hostile.json");
        await File.WriteAllTextAsync(file, config.ToJsonString(), TestContext.Current.CancellationToken);

        var result = await site.KwfAsync("sandbox", "run", "--config", file);

        Assert.True(result.Exit != 0, $"{field} = {json} was accepted:\n{result}");
        Assert.Contains(named, result.Stderr + result.Stdout, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(Inspect.QemuProcesses(site.Directory));
        await LeakChecker.AssertNoneAsync(site, await site.RecordsAsync(), $"after {field} = {json} was refused");
    }
}
