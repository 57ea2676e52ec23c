using KataWorkflows.TestSupport;

namespace KataWorkflows.RealSandbox.Tests.Harness;

/// <summary>The builds the tests run: recorded at build time by the test project.</summary>
internal static class Artifacts
{
    public static string Kwf => ChildProcess.BuiltAssembly(typeof(Artifacts).Assembly, "KwfAssembly", "KATA_KWF_DLL", "src/Cli");

    public static string Host => ChildProcess.BuiltAssembly(typeof(Artifacts).Assembly, "HostAssembly", "KATA_HOST_DLL", "src/Host");
}
