using KataWorkflows.Orchestrations.Sandboxes;

namespace KataWorkflows.Sandbox.Process.Tests;

// One class per call and path: each is a test collection, so the matrix runs several cases at once (each case has its own
// directory, store and run root).
public sealed class CreateSandboxCrashTests
{
    public static TheoryData<string> Cases() => CrashMatrix.Names(CrashMatrix.Create);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task A_create_killed_at_a_step_boundary_completes_after_a_restart(string name) => CrashRunner.RunAsync(CrashMatrix.All[name]);
}

public sealed class CreateSandboxCompensationCrashTests
{
    public static TheoryData<string> Cases() => CrashMatrix.Names(CrashMatrix.CreateCompensation);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task A_failed_create_killed_while_undoing_is_fully_undone_after_a_restart(string name) => CrashRunner.RunAsync(CrashMatrix.All[name]);
}

public sealed class RunSandboxCrashTests
{
    public static TheoryData<string> Cases() => CrashMatrix.Names(CrashMatrix.Run);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task A_run_killed_at_a_step_boundary_completes_after_a_restart(string name) => CrashRunner.RunAsync(CrashMatrix.All[name]);
}

public sealed class RunSandboxCompensationCrashTests
{
    public static TheoryData<string> Cases() => CrashMatrix.Names(CrashMatrix.RunCompensation);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task A_failed_run_killed_while_undoing_is_fully_undone_after_a_restart(string name) => CrashRunner.RunAsync(CrashMatrix.All[name]);
}

public sealed class CleanupContainerCrashTests(CleanupTemplate template) : IClassFixture<CleanupTemplate>
{
    public static TheoryData<string> Cases() => CrashMatrix.Names(CrashMatrix.Cleanup);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_cleanup_killed_at_a_step_boundary_removes_the_sandbox_after_a_restart(string name) =>
        await CrashRunner.RunAsync(CrashMatrix.All[name], await template.DirectoryAsync());
}

/// <summary>A store and run root holding a running sandbox with one container, made once and copied by each cleanup case.</summary>
public sealed class CleanupTemplate : IAsyncDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kwf-sandbox-template-").FullName;
    private readonly Lazy<Task<string>> _made;

    public CleanupTemplate()
    {
        _made = new(MakeAsync);
    }

    public Task<string> DirectoryAsync() => _made.Value;

    public ValueTask DisposeAsync()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is not worth failing a test over.
        }

        return ValueTask.CompletedTask;
    }

    private async Task<string> MakeAsync()
    {
        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var host = HostProcess.Start(
            ["--db", Path.Combine(_directory, "store.db"), "--run-root", Path.Combine(_directory, "run"), .. CrashRunner.CallArguments(SandboxOrchestrations.RunSandbox, "setup")]);
        var lines = await host.WaitForExitAsync(budget.Token);
        Assert.True(host.ExitCode == 0 && lines.Contains("completed"), $"The cleanup template's RunSandbox did not complete.\n{host.Output}");
        return _directory;
    }
}
