namespace KataWorkflows.Activities.Drivers;

/// <summary>
/// Where the mock hypervisor and the noop agent keep what they "run". By default (no <see cref="StateDirectory"/>)
/// they keep it in process memory, so it dies with the process. With a directory, every VM and every guest side they
/// set up is a small JSON file there, replaced atomically at each change, and a new process over the same directory
/// finds what the previous one left running, as a real VM outlives the host process that started it.
/// </summary>
public sealed class MockDriverOptions
{
    /// <summary>The configuration section these options are usually bound from.</summary>
    public const string SectionName = "MockDrivers";

    /// <summary>
    /// The directory of the mock drivers' state (an absolute path), or null to keep it in memory. The mock hypervisor
    /// writes <c>&lt;dir&gt;/mock-hypervisor/&lt;sandboxId&gt;.json</c>, the noop agent
    /// <c>&lt;dir&gt;/noop-agent/&lt;sandboxId&gt;.json</c>.
    /// </summary>
    public string? StateDirectory { get; set; }
}
