using KataWorkflows.TestSupport;

namespace KataWorkflows.Sandbox.Process.Tests;

/// <summary>The sandbox crash host running as a child process (<c>dotnet KataWorkflows.Sandbox.CrashHost.dll ...</c>).</summary>
public static class HostProcess
{
    /// <summary>Starts the crash host with <paramref name="arguments"/>.</summary>
    public static ChildProcess Start(IEnumerable<string> arguments)
    {
        var start = ChildProcess.Dotnet(CrashHostAssembly(), arguments);

        // Start-up is most of what a case costs; the host is small and short-lived.
        start.Environment["DOTNET_TieredPGO"] = "0";
        start.Environment["DOTNET_gcServer"] = "0";
        return ChildProcess.Start(start);
    }

    /// <summary>
    /// The crash host's assembly: <c>KATA_SANDBOX_CRASHHOST_DLL</c> when set, otherwise the path the build recorded in this
    /// assembly (the referenced project's own output).
    /// </summary>
    private static string CrashHostAssembly() =>
        ChildProcess.BuiltAssembly(typeof(HostProcess).Assembly, "SandboxCrashHostAssembly", "KATA_SANDBOX_CRASHHOST_DLL", "tests/Sandbox.CrashHost");
}
