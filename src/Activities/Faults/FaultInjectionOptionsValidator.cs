using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Faults;

/// <summary>Checks <see cref="FaultInjectionOptions"/> at start; the message names the bad key.</summary>
public sealed class FaultInjectionOptionsValidator : IValidateOptions<FaultInjectionOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, FaultInjectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        for (var i = 0; i < options.Rules.Count; i++)
        {
            var rule = options.Rules[i];
            var key = $"{FaultInjectionOptions.SectionName}:{nameof(FaultInjectionOptions.Rules)}:{i}";
            if (rule is null)
            {
                failures.Add($"{key} is empty.");
                continue;
            }

            if (!SandboxActivitiesRegistryExtensions.IsActivityName(rule.Step))
            {
                failures.Add($"{key}:{nameof(FaultRule.Step)} '{rule.Step}' is not a sandbox activity (expected one of {string.Join(", ", SandboxActivitiesRegistryExtensions.ActivityNames)}).");
            }

            if (rule.Times < 0)
            {
                failures.Add($"{key}:{nameof(FaultRule.Times)} must be 0 (every time) or more, got {rule.Times}.");
            }

            if (rule.Skip < 0)
            {
                failures.Add($"{key}:{nameof(FaultRule.Skip)} must be 0 or more, got {rule.Skip}.");
            }

            if (!Enum.IsDefined(rule.Mode))
            {
                failures.Add($"{key}:{nameof(FaultRule.Mode)} {(int)rule.Mode} is not a fault mode.");
            }

            if (!Enum.IsDefined(rule.When))
            {
                failures.Add($"{key}:{nameof(FaultRule.When)} {(int)rule.When} is not before or after.");
            }
        }

        try
        {
            _ = string.IsNullOrWhiteSpace(options.Spec) ? [] : FaultInjectionOptions.Parse(options.Spec);
        }
        catch (FormatException ex)
        {
            failures.Add($"{FaultInjectionOptions.SectionName}:{nameof(FaultInjectionOptions.Spec)}: {ex.Message}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
