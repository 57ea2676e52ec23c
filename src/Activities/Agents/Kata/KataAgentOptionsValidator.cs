using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Agents.Kata;

/// <summary>Checks <see cref="KataAgentOptions"/> at start; each failure names its key.</summary>
public sealed class KataAgentOptionsValidator : IValidateOptions<KataAgentOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, KataAgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.SharedDirectory) || !Path.IsPathRooted(options.SharedDirectory))
        {
            failures.Add($"{KataAgentOptions.SectionName}:SharedDirectory must be an absolute path, got '{options.SharedDirectory}'.");
        }

        Positive(failures, nameof(options.DialTimeout), options.DialTimeout);
        Positive(failures, nameof(options.CheckTimeout), options.CheckTimeout);
        Positive(failures, nameof(options.RequestTimeout), options.RequestTimeout);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Positive(List<string> failures, string key, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"{KataAgentOptions.SectionName}:{key} must be positive, got {value}.");
        }
    }
}
