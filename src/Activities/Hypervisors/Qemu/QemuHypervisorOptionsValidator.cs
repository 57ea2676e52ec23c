using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>Checks <see cref="QemuHypervisorOptions"/> at start; each failure names its key.</summary>
public sealed class QemuHypervisorOptionsValidator : IValidateOptions<QemuHypervisorOptions>
{
    /// <summary>QEMU's limit of vCPUs on q35.</summary>
    public const int MaxVCpusLimit = 288;

    /// <summary>The most PCIe root ports the driver adds.</summary>
    public const int MaxHotplugSlots = 24;

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, QemuHypervisorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        Program(failures, nameof(options.QemuPath), options.QemuPath);
        Program(failures, nameof(options.NsenterPath), options.NsenterPath);
        if (!Enum.IsDefined(options.Accelerator))
        {
            failures.Add($"{Key(nameof(options.Accelerator))} must be Auto, Kvm or Tcg, got '{options.Accelerator}'.");
        }

        if (string.IsNullOrWhiteSpace(options.GuestImageDirectory) || !Path.IsPathFullyQualified(options.GuestImageDirectory))
        {
            failures.Add($"{Key(nameof(options.GuestImageDirectory))} must be an absolute path, got '{options.GuestImageDirectory}'.");
        }
        else if (QemuArguments.FindUnsafe(options.GuestImageDirectory) is { } bad)
        {
            failures.Add($"{Key(nameof(options.GuestImageDirectory))} must not contain {bad}, got '{options.GuestImageDirectory}'.");
        }

        if (options.MaxMemoryMiB is < 64 or > 16 * 1024 * 1024)
        {
            failures.Add($"{Key(nameof(options.MaxMemoryMiB))} must be between 64 and 16777216 MiB, got {options.MaxMemoryMiB}.");
        }

        if (options.MaxVCpus is < 1 or > MaxVCpusLimit)
        {
            failures.Add($"{Key(nameof(options.MaxVCpus))} must be between 1 and {MaxVCpusLimit}, got {options.MaxVCpus}.");
        }

        Positive(failures, nameof(options.BootTimeout), options.BootTimeout);
        Positive(failures, nameof(options.StopTimeout), options.StopTimeout);
        Positive(failures, nameof(options.QmpTimeout), options.QmpTimeout);
        Positive(failures, nameof(options.DeviceRemoveTimeout), options.DeviceRemoveTimeout);
        Positive(failures, nameof(options.AcceleratorProbeTimeout), options.AcceleratorProbeTimeout);
        if (options.ConsoleLogMaxBytes < 8192)
        {
            failures.Add($"{Key(nameof(options.ConsoleLogMaxBytes))} must be at least 8192 bytes, got {options.ConsoleLogMaxBytes}.");
        }

        if (options.HotplugSlots is < 0 or > MaxHotplugSlots)
        {
            failures.Add($"{Key(nameof(options.HotplugSlots))} must be between 0 and {MaxHotplugSlots}, got {options.HotplugSlots}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static string Key(string name) => $"{QemuHypervisorOptions.SectionName}:{name}";

    private static void Program(List<string> failures, string key, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            failures.Add($"{Key(key)} is required.");
        }
        else if (value.Contains('/', StringComparison.Ordinal) && !Path.IsPathFullyQualified(value))
        {
            failures.Add($"{Key(key)} must be a program name on PATH or an absolute path, got '{value}'.");
        }
        else if (value.Any(char.IsControl))
        {
            failures.Add($"{Key(key)} must not contain control characters.");
        }
    }

    private static void Positive(List<string> failures, string key, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"{Key(key)} must be positive, got {value}.");
        }
    }
}
