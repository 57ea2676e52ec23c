using KataWorkflows.Host;
using KataWorkflows.Host.Configuration;

// Exit codes: 0 stopped cleanly, 1 failed at start or while running, 2 invalid configuration (systemd does not restart).
try
{
    await using var app = KataWorkflowsHost.Build(args);
    await app.RunAsync();
    return 0;
}
catch (HostConfigurationException ex)
{
    await Console.Error.WriteLineAsync($"kata-workflows: {ex.Message}");
    return 2;
}
#pragma warning disable CA1031 // The last resort of the process: say why in one line instead of a crash dump.
catch (Exception ex)
#pragma warning restore CA1031
{
    await Console.Error.WriteLineAsync($"kata-workflows: failed: {ex.GetType().Name}: {ex.Message}");
    return 1;
}
