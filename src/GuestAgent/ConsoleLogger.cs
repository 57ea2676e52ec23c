using Microsoft.Extensions.Logging;

namespace KataWorkflows.GuestAgent;

/// <summary>
/// Writes log lines to stderr (the guest's console, which the host keeps as the VM's console log): the agent is a
/// single NativeAOT binary, so it carries this instead of a logging provider package.
/// </summary>
internal sealed class ConsoleLogger(LogLevel minimum) : ILogger
{
    private readonly Lock _gate = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }
        var line = $"[agent] {DateTime.UtcNow:HH:mm:ss.fff} {logLevel.ToString()[..4].ToLowerInvariant()} {formatter(state, exception)}"
            + (exception is null ? "" : $": {exception.GetType().Name}: {exception.Message}");
        lock (_gate)
        {
            Console.Error.WriteLine(line);
        }
    }
}
