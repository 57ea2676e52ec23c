using System.Text;
using System.Text.Json.Nodes;

namespace KataWorkflows.Cli.Output;

/// <summary>How sandbox records, container statuses and call results (the host's JSON) are shown as tables.</summary>
public static class SandboxView
{
    /// <summary>A table of sandboxes (each a <c>SandboxStatus</c> object).</summary>
    public static string Sandboxes(IEnumerable<JsonNode?> sandboxes)
    {
        ArgumentNullException.ThrowIfNull(sandboxes);
        var table = new Table("sandbox", "state", "hypervisor", "agent", "containers", "pending", "cleanup");
        foreach (var s in sandboxes.OfType<JsonObject>())
        {
            var containers = s["containers"] as JsonArray;
            table.Add(
                Text(s, "id"), Text(s, "state"), Text(s, "hypervisor"), Text(s, "agent"),
                containers is null ? "0" : string.Join(",", containers.OfType<JsonObject>().Select(c => Text(c, "id"))) is { Length: > 0 } ids ? ids : "0",
                Text(s, "pendingOperation"), Text(s, "cleanupReason"));
        }

        return table.Count == 0 ? "no sandboxes\n" : table.ToString();
    }

    /// <summary>A table of containers (each a <c>ContainerStatus</c> object).</summary>
    public static string Containers(IEnumerable<JsonNode?> containers)
    {
        ArgumentNullException.ThrowIfNull(containers);
        var table = new Table("container", "state", "pid", "started", "rootfs");
        foreach (var c in containers.OfType<JsonObject>())
        {
            table.Add(Text(c, "id"), Text(c, "state"), Text(c, "pid"), Text(c, "startTime"), Text(c, "rootFs"));
        }

        return table.ToString();
    }

    /// <summary>A sandbox status with its containers, or a container status.</summary>
    public static string Status(JsonNode? status)
    {
        if (status is not JsonObject obj)
        {
            return JsonText.Human(status);
        }

        if (obj.ContainsKey("hypervisor") || obj.ContainsKey("agent"))
        {
            var text = new StringBuilder(Sandboxes([obj]));
            if (obj["containers"] is JsonArray { Count: > 0 } containers)
            {
                text.Append('\n').Append(Containers(containers));
            }

            return text.ToString();
        }

        return Containers([obj]);
    }

    /// <summary>The result of a completed call (a <c>SandboxOperationResult</c>): the sandbox after it and the call's own result.</summary>
    public static string Result(JsonNode? result)
    {
        if (result is not JsonObject obj)
        {
            return result is null ? "done\n" : JsonText.Human(result);
        }

        var text = new StringBuilder();
        if (obj["sandbox"] is JsonObject sandbox)
        {
            text.Append(Status(sandbox));
        }
        else
        {
            // A completed call reports the sandbox after it; none means the call deleted it.
            text.Append("the sandbox no longer exists\n");
        }

        foreach (var key in new[] { "process", "interface", "routes", "device" })
        {
            if (obj[key] is { } value)
            {
                text.Append('\n').Append(key).Append(":\n").Append(JsonText.Human(value));
            }
        }

        // A call that succeeded without doing it all (a SIGKILL with nothing to kill, a stop of a stopped sandbox) says why.
        if (Text(obj, "note") is { Length: > 0 } note)
        {
            text.Append("note: ").Append(note).Append('\n');
        }

        return text.ToString();
    }

    private static string? Text(JsonObject obj, string key) => obj[key] is { } value ? JsonText.Scalar(value) : null;
}
