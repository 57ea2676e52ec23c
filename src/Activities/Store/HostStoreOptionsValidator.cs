using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Store;

/// <summary>Checks <see cref="HostStoreOptions"/> at start; the message names the bad key.</summary>
public sealed class HostStoreOptionsValidator : IValidateOptions<HostStoreOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, HostStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.RunRoot))
        {
            return ValidateOptionsResult.Fail($"{HostStoreOptions.SectionName}:{nameof(HostStoreOptions.RunRoot)} is required (Kata's is {HostStoreOptions.DefaultRunRoot}).");
        }

        if (!Path.IsPathFullyQualified(options.RunRoot))
        {
            return ValidateOptionsResult.Fail($"{HostStoreOptions.SectionName}:{nameof(HostStoreOptions.RunRoot)} must be an absolute path, got '{options.RunRoot}'.");
        }

        return ValidateOptionsResult.Success;
    }
}
