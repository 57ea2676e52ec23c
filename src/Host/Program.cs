using KataWorkflows.Host;
using KataWorkflows.Host.Configuration;

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
