namespace KataWorkflows.Cli.Tests.Harness;

/// <summary>
/// One host shared by a test class, with fault rules that strike only the sandboxes named for them, so a test can have
/// a run that hangs or fails without disturbing the others.
/// </summary>
public sealed class HostFixture : IAsyncLifetime
{
    /// <summary>Exec in this sandbox hangs until the host stops: a run that stays in progress.</summary>
    public const string HangingSandbox = "sb-hang";

    /// <summary>createContainers fails for this sandbox: create/run is compensated.</summary>
    public const string FailingSandbox = "sb-undo";

    private HostProcess? _host;

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("kwf-e2e-").FullName;

    public string Socket => _host?.Socket ?? throw new InvalidOperationException("the host is not started");

    internal HostProcess Host => _host ?? throw new InvalidOperationException("the host is not started");

    public async ValueTask InitializeAsync() =>
        _host = await HostProcess.StartAsync(
            Directory, $"container.exec:hang:0:before:sandbox={HangingSandbox},sandbox.createContainers:fail:0:before:sandbox={FailingSandbox}");

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by the killed host's children is left to the temp cleaner.
        }
    }

    internal Task<KwfResult> KwfAsync(params string[] args) => KwfProcess.RunAsync(Socket, args);

    /// <summary>The arguments of a sandbox on the mock hypervisor and noop agent.</summary>
    internal static string[] MockSandbox(string id, params string[] containers) =>
        [id, "--hypervisor", "mock", "--agent", "noop", "--kernel", "/usr/share/kata/vmlinuz", "--image", "/usr/share/kata/kata.img",
            "--interworking-model", "none", .. containers.SelectMany(c => new[] { "--container", c })];
}
