using System.Reflection;
using System.Runtime.Loader;
using KataWorkflows.Orchestrations.Sandboxes;
using Microsoft.DurableTask;

namespace KataWorkflows.Cli.Replay;

/// <summary>
/// The orchestration code a history is replayed against: the sandbox orchestrations this CLI was built with, or a
/// candidate build loaded from another assembly, registered by a public static method that takes the Durable Task
/// SDK's <see cref="DurableTaskRegistry"/> (e.g. <c>AddSandboxOrchestrations</c>, or a test's <c>Register</c>).
/// </summary>
public sealed class OrchestrationModule
{
    // Shared with the candidate so its registration method takes this process's registry type (the SDK's and Core's
    // assemblies too: the candidate's orchestrators run on this process's executor).
    private static readonly string[] SharedPrefixes = ["KataWorkflows.Engine", "KataWorkflows.Protocol", "Microsoft.DurableTask.", "DurableTask.Core", "Newtonsoft.Json", "Google.Protobuf", "Microsoft.Extensions.", "System.", "Microsoft.CSharp", "netstandard", "mscorlib"];

    private OrchestrationModule(DurableTaskRegistry registry, string description)
    {
        Registry = registry;
        Description = description;
    }

    /// <summary>The registered orchestrations.</summary>
    public DurableTaskRegistry Registry { get; }

    /// <summary>The names of the registered orchestrators.</summary>
    public IReadOnlyList<string> OrchestratorNames => [.. Registry.GetOrchestrators().Select(o => o.Key.Name)];

    /// <summary>Where the code came from, for messages.</summary>
    public string Description { get; }

    /// <summary>The sandbox orchestrations this CLI references.</summary>
    public static OrchestrationModule Current()
    {
        var assembly = typeof(SandboxOrchestrations).Assembly;
        return new OrchestrationModule(
            new DurableTaskRegistry().AddSandboxOrchestrations(),
            $"{assembly.GetName().Name} {assembly.GetName().Version} (built into kwf)");
    }

    /// <summary>
    /// Loads a candidate build from <paramref name="assemblyPath"/> in its own load context and runs its registration
    /// method: <paramref name="module"/> names a type (its one registration method is used) or a method (<c>Type.Method</c>,
    /// or its tail when unambiguous);
    /// without it, the assembly must have exactly one.
    /// </summary>
    /// <exception cref="CliException">A usage error saying what was not found and what is there.</exception>
    public static OrchestrationModule Load(string assemblyPath, string? module)
    {
        ArgumentNullException.ThrowIfNull(assemblyPath);
        var path = Path.GetFullPath(assemblyPath);
        if (!File.Exists(path))
        {
            throw CliException.Usage($"--assembly: no such file '{assemblyPath}'");
        }

        Assembly assembly;
        try
        {
            assembly = new CandidateLoadContext(path).LoadFromAssemblyPath(path);
        }
        catch (BadImageFormatException ex)
        {
            throw CliException.Usage($"--assembly: '{assemblyPath}' is not a .NET assembly: {ex.Message}");
        }

        var candidates = RegistrationMethods(assembly).ToList();
        var chosen = Choose(candidates, module, assemblyPath);
        var registry = new DurableTaskRegistry();
        try
        {
            chosen.Invoke(null, [registry]);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            throw new CliException(ExitCodes.Error, $"{Name(chosen)} failed: {ex.InnerException.Message}", ex.InnerException);
        }

        return new OrchestrationModule(registry, $"{Name(chosen)} in {assemblyPath}");
    }

    private static MethodInfo Choose(List<MethodInfo> candidates, string? module, string assemblyPath)
    {
        var available = candidates.Count == 0 ? "none" : string.Join(", ", candidates.Select(Name));
        if (module is null)
        {
            return candidates.Count == 1
                ? candidates[0]
                : throw CliException.Usage(candidates.Count == 0
                    ? $"--assembly: '{assemblyPath}' has no public static method taking a DurableTaskRegistry"
                    : $"--assembly: '{assemblyPath}' has several registration methods; choose one with --module ({available})");
        }

        // Type.Method in full, or its tail (CandidateOrchestrations.ChangedExec, ChangedExec) when that is unambiguous.
        var byMethod = candidates.Where(m => Name(m) == module || Name(m).EndsWith("." + module, StringComparison.Ordinal)).ToList();
        if (byMethod.Count == 1)
        {
            return byMethod[0];
        }

        var byType = candidates.Where(m => m.DeclaringType!.FullName == module || m.DeclaringType!.Name == module).ToList();
        return byType.Count switch
        {
            1 => byType[0],
            0 => throw CliException.Usage($"--module: '{module}' is not a registration method or its type in '{assemblyPath}' (found: {available})"),
            _ => throw CliException.Usage($"--module: '{module}' has several registration methods; name one as Type.Method ({string.Join(", ", byType.Select(Name))})"),
        };
    }

    private static IEnumerable<MethodInfo> RegistrationMethods(Assembly assembly)
    {
        Type[] types;
        try
        {
            types = assembly.GetExportedTypes();
        }
        catch (Exception ex) when (ex is ReflectionTypeLoadException or FileNotFoundException or FileLoadException)
        {
            throw CliException.Usage($"--assembly: cannot load the types of '{assembly.Location}' (is it built against this kwf's engine?): {ex.Message}");
        }

        return types
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static))
            .Where(m => m.GetParameters() is [{ } p] && p.ParameterType == typeof(DurableTaskRegistry) && !m.ContainsGenericParameters)
            .OrderBy(Name, StringComparer.Ordinal);
    }

    private static string Name(MethodInfo method) => $"{method.DeclaringType!.FullName}.{method.Name}";

    private sealed class CandidateLoadContext(string mainAssemblyPath) : AssemblyLoadContext($"kwf-replay:{Path.GetFileName(mainAssemblyPath)}", isCollectible: false)
    {
        private readonly AssemblyDependencyResolver _resolver = new(mainAssemblyPath);
        private readonly string _directory = Path.GetDirectoryName(mainAssemblyPath)!;

        protected override Assembly? Load(AssemblyName assemblyName)
        {
            var name = assemblyName.Name ?? string.Empty;
            if (SharedPrefixes.Any(p => name.Equals(p, StringComparison.Ordinal) || (p.EndsWith('.') && name.StartsWith(p, StringComparison.Ordinal))))
            {
                return null;
            }

            // The candidate's own dependencies (a changed KataWorkflows.Orchestrations included) load beside it.
            var path = _resolver.ResolveAssemblyToPath(assemblyName) ?? Path.Combine(_directory, name + ".dll");
            return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }
}
