namespace KataWorkflows.Bench.Cli;

/// <summary>The command line is wrong; the message says what and how to fix it. Exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
