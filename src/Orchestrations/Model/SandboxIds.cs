using System.Text.RegularExpressions;

namespace KataWorkflows.Orchestrations.Model;

/// <summary>
/// Sandbox and container ids become directory names and entity keys, so they are restricted to
/// <c>^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$</c>.
/// </summary>
public static partial class SandboxIds
{
    /// <summary>The pattern every id matches.</summary>
    public const string Pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$";

    /// <summary>Checks a sandbox id with Kata's message for an empty one.</summary>
    /// <exception cref="InvalidSandboxArgumentException">The id is empty or does not match <see cref="Pattern"/>.</exception>
    public static void ValidateSandboxId(string? id, string field = "sandboxId")
    {
        if (string.IsNullOrEmpty(id))
        {
            throw new InvalidSandboxArgumentException(field, "Sandbox ID cannot be empty");
        }

        Check(id, field, "sandbox");
    }

    /// <summary>Checks a container id with Kata's message for an empty one.</summary>
    /// <exception cref="InvalidSandboxArgumentException">The id is empty or does not match <see cref="Pattern"/>.</exception>
    public static void ValidateContainerId(string? id, string field = "containerId")
    {
        if (string.IsNullOrEmpty(id))
        {
            throw new InvalidSandboxArgumentException(field, "Container ID cannot be empty");
        }

        Check(id, field, "container");
    }

    private static void Check(string id, string field, string kind)
    {
        if (!IdRegex().IsMatch(id))
        {
            var shown = id.Length > 40 ? id[..40] + "…" : id;
            throw new InvalidSandboxArgumentException(
                field, $"{field}: '{shown}' is not a valid {kind} id ({id.Length} characters; it must match {Pattern}).");
        }
    }

    [GeneratedRegex(Pattern, RegexOptions.CultureInvariant)]
    private static partial Regex IdRegex();
}
