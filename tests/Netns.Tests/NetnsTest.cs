namespace KataWorkflows.Netns.Tests;

/// <summary>
/// A test class that needs root, iproute2 and tc (<see cref="NetnsHost.Require"/>) and gets its own
/// <see cref="NetnsHost"/>, removed with everything it made after the test.
/// </summary>
public abstract class NetnsTest : IAsyncLifetime
{
    /// <summary>The test's names, prefixes, run root and address pool.</summary>
    private protected NetnsHost Host { get; } = new();

    /// <summary>The test's cancellation token.</summary>
    protected static CancellationToken Ct => NetnsHost.Ct;

    /// <inheritdoc />
    public ValueTask InitializeAsync()
    {
        NetnsHost.Require();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return Host.DisposeAsync();
    }
}
