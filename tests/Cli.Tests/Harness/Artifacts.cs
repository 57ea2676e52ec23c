using System.Reflection;

namespace KataWorkflows.Cli.Tests.Harness;

/// <summary>The builds the end-to-end tests run: recorded at build time by the test project (see Cli.Tests.csproj).</summary>
internal static class Artifacts
{
    public static string Kwf => Path("KwfAssembly");

    public static string Host => Path("HostAssembly");

    public static string ReplayCandidate => Path("ReplayCandidateAssembly");

    /// <summary>The dotnet host that runs the built assemblies.</summary>
    public static string Dotnet => Environment.ProcessPath is { } p && System.IO.Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";

    private static string Path(string key)
    {
        var path = typeof(Artifacts).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == key)?.Value;
        return path is { Length: > 0 } && File.Exists(path)
            ? path
            : throw new InvalidOperationException($"The build of {key} is missing ('{path}'): build tests/Cli.Tests first.");
    }
}
