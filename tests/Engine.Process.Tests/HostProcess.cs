using KataWorkflows.TestSupport;

namespace KataWorkflows.Engine.Process.Tests;

/// <summary>The engine crash host running as a child process (<c>dotnet KataWorkflows.Engine.CrashHost.dll ...</c>).</summary>
public static class HostProcess
{
    /// <summary>Starts the crash host with <paramref name="arguments"/>.</summary>
    public static ChildProcess Start(params string[] arguments) => ChildProcess.Start(ChildProcess.Dotnet(CrashHostAssembly(), arguments));

    /// <summary>
    /// The crash host's assembly: <c>KATA_CRASHHOST_DLL</c> when set, otherwise the path the build recorded in this
    /// assembly (the referenced project's own output).
    /// </summary>
    private static string CrashHostAssembly() =>
        ChildProcess.BuiltAssembly(typeof(HostProcess).Assembly, "CrashHostAssembly", "KATA_CRASHHOST_DLL", "tests/Engine.CrashHost");
}
