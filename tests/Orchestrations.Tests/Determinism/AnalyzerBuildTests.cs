using System.Diagnostics;
using System.Text.RegularExpressions;

namespace KataWorkflows.Orchestrations.Tests.Determinism;

/// <summary>
/// Orchestration code that reads the clock or makes a random id does not build: a small project with such an
/// orchestrator, inside this repository (so it gets its build props, .editorconfig and central package versions) and importing the
/// determinism configuration src/Orchestrations builds with (Determinism.props), is built with <c>dotnet build</c>.
/// </summary>
public sealed partial class AnalyzerBuildTests
{
    private const string Snippet = """
        using Microsoft.DurableTask;

        namespace Probe;

        public sealed class ClockOrchestrator : TaskOrchestrator<string, string>
        {
            public override Task<string> RunAsync(TaskOrchestrationContext context, string input) =>
                Task.FromResult($"{input}:{DateTime.UtcNow:O}");
        }

        public static class Registrations
        {
            public static DurableTaskRegistry Add(DurableTaskRegistry registry) =>
                registry.AddOrchestratorFunc<string, string>("ids", (context, input) => Task.FromResult($"{input}:{Guid.NewGuid()}"));
        }
        """;

    [Fact]
    public async Task DateTime_UtcNow_and_Guid_NewGuid_in_an_orchestration_fail_the_build_with_the_Durable_Task_analyzers()
    {
        var root = RepositoryRoot();
        // Not under any obj/ (the repository's .editorconfig marks that generated code, which the analyzers skip), nor
        // under a project directory whose globs would pick the snippet up.
        var directory = Path.Combine(root, "tests", ".determinism-probe-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            var props = Path.Combine(root, "src", "Orchestrations", "Determinism.props");
            Assert.True(File.Exists(props), props);
            await File.WriteAllTextAsync(Path.Combine(directory, "Probe.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <NoWarn>$(NoWarn);CA2007</NoWarn>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Microsoft.DurableTask.Abstractions" />
                  </ItemGroup>
                  <Import Project="{props}" />
                </Project>
                """, TestContext.Current.CancellationToken);
            await File.WriteAllTextAsync(Path.Combine(directory, "Orchestrations.cs"), Snippet, TestContext.Current.CancellationToken);

            var (exitCode, output) = await BuildAsync(directory);

            Assert.NotEqual(0, exitCode);
            var errors = ErrorCode().Matches(output).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
            Assert.Contains("DURABLE0001", errors);
            Assert.Contains("DURABLE0002", errors);
            Assert.Contains("System.DateTime.UtcNow", output, StringComparison.Ordinal);
            Assert.Contains("Guid.NewGuid", output, StringComparison.Ordinal);

            // Nothing else broke the build: only the determinism checks (the analyzers, and the banned-API list that
            // also names the clock).
            Assert.All(errors, code => Assert.Matches("^(DURABLE|RS0030)", code));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<(int ExitCode, string Output)> BuildAsync(string directory)
    {
        var start = new ProcessStartInfo("dotnet", ["build", Path.Combine(directory, "Probe.csproj"), "-c", "Release", "-nologo", "-v:q", "-clp:NoSummary"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = directory,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);

        // Bounded: a restore from the package cache and one small compilation (minutes only on a very busy machine).
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(8));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet build of the determinism probe did not finish within 8 minutes: {await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KataWorkflows.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"KataWorkflows.sln not found above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"error ([A-Z]+[0-9]+)")]
    private static partial Regex ErrorCode();
}
