using System.Text.Json;
using KataWorkflows.Host.Configuration;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Host.Services;

/// <summary>
/// Fills the host's defaults (<c>KataWorkflows:Sandboxes</c>) into a CreateSandbox or RunSandbox config before its run
/// starts: the hypervisor, agent and interworking model when the request leaves them absent, null or empty, the guest
/// image's kernel and initramfs when it names no kernel and no image or initrd, the memory when it is 0. A value the
/// request gives is never replaced. The run's input then holds what was used, so a replay or a restart sees the same.
/// </summary>
internal sealed class SandboxConfigDefaults(KataWorkflowsOptions options)
{
    private readonly SandboxesSection _defaults = options.Sandboxes;

    /// <summary>The config with the defaults filled in.</summary>
    /// <param name="config">The config as deserialized (the model's own defaults in fields the JSON did not have).</param>
    /// <param name="json">The config's JSON object as sent, to tell an absent field from one set to the model's default.</param>
    public SandboxConfig Apply(SandboxConfig config, JsonElement json)
    {
        ArgumentNullException.ThrowIfNull(config);
        var networkJson = Property(json, "networkConfig");
        var hypervisorConfig = config.HypervisorConfig;
        if (_defaults.GuestImageDirectory is { Length: > 0 } image)
        {
            if (string.IsNullOrEmpty(hypervisorConfig.KernelPath))
            {
                hypervisorConfig = hypervisorConfig with { KernelPath = Path.Combine(image, SandboxesSection.KernelFile) };
            }

            if (string.IsNullOrEmpty(hypervisorConfig.ImagePath) && string.IsNullOrEmpty(hypervisorConfig.InitrdPath))
            {
                hypervisorConfig = hypervisorConfig with { InitrdPath = Path.Combine(image, SandboxesSection.InitrdFile) };
            }
        }

        if (hypervisorConfig.MemorySizeMiB == 0 && _defaults.DefaultMemoryMiB is { } memory)
        {
            hypervisorConfig = hypervisorConfig with { MemorySizeMiB = memory };
        }

        return config with
        {
            HypervisorType = HasValue(json, "hypervisorType") ? config.HypervisorType : _defaults.DefaultHypervisor,
            AgentType = HasValue(json, "agentType") ? config.AgentType : _defaults.DefaultAgent,
            HypervisorConfig = hypervisorConfig,
            NetworkConfig = networkJson is { } n && HasValue(n, "interworkingModel")
                ? config.NetworkConfig
                : config.NetworkConfig with { InterworkingModel = _defaults.DefaultNetwork },
        };
    }

    private static bool HasValue(JsonElement json, string name) =>
        Property(json, name) is { } value && value.ValueKind != JsonValueKind.Null
        && !(value.ValueKind == JsonValueKind.String && value.GetString()!.Length == 0);

    // Property names are matched as the host's JSON options match them: case-insensitively.
    private static JsonElement? Property(JsonElement json, string name)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (var property in json.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return property.Value;
            }
        }

        return null;
    }
}
