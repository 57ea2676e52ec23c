using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.Engine.Tests.Harness;

/// <summary>Keeps every log line written through the loggers it creates.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<LogLine> _lines = new();

    /// <summary>The lines written so far, in order.</summary>
    public IReadOnlyList<LogLine> Lines => [.. _lines];

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<LogLine> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue(new LogLine(category, logLevel, formatter(state, exception), exception));
    }
}

/// <summary>One captured log line.</summary>
public sealed record LogLine(string Category, LogLevel Level, string Message, Exception? Exception = null);
