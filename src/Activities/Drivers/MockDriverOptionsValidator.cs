using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Drivers;

/// <summary>Checks <see cref="MockDriverOptions"/> at start; the message names the bad key.</summary>
public sealed class MockDriverOptionsValidator : IValidateOptions<MockDriverOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, MockDriverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.StateDirectory is { } directory && !Path.IsPathFullyQualified(directory)
            ? ValidateOptionsResult.Fail($"{MockDriverOptions.SectionName}:{nameof(MockDriverOptions.StateDirectory)} must be an absolute path, got '{directory}'.")
            : ValidateOptionsResult.Success;
    }
}
