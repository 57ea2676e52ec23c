namespace KataWorkflows.Activities.Networks.TcFilter;

/// <summary>Runs one iproute2 command (<c>ip</c>, <c>tc</c>, or either through <c>nsenter</c>) and returns its stdout.</summary>
internal interface INetworkCommandRunner
{
    /// <summary>Runs the program with the arguments (never through a shell).</summary>
    /// <exception cref="NetworkCommandException">It exited with a non-zero code, timed out or could not be started.</exception>
    Task<string> RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken);
}
