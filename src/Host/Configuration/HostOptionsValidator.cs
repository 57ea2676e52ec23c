using System.Net;
using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Activities.Faults;
using KataWorkflows.Activities.Hypervisors.Qemu;
using KataWorkflows.Activities.Networks.TcFilter;
using Microsoft.Extensions.Configuration;

namespace KataWorkflows.Host.Configuration;

/// <summary>Reads and checks the <c>KataWorkflows</c> section; every error names its key.</summary>
internal static class HostOptionsValidator
{
    private const string Prefix = KataWorkflowsOptions.SectionName + ":";

    /// <summary>Binds the section and validates it.</summary>
    /// <exception cref="HostConfigurationException">A value does not convert or is out of range.</exception>
    public static KataWorkflowsOptions Load(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new KataWorkflowsOptions();
        var section = configuration.GetSection(KataWorkflowsOptions.SectionName);
        var unknown = new List<string>();
        FindUnknownKeys(section, typeof(KataWorkflowsOptions), unknown);
        if (unknown.Count > 0)
        {
            throw new HostConfigurationException(unknown);
        }

        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the key ("... at 'KataWorkflows:Listen:Tcp:Port' to type ...").
            throw new HostConfigurationException([ex.Message], ex);
        }

        var errors = Validate(options);
        return errors.Count == 0 ? options : throw new HostConfigurationException(errors);
    }

    /// <summary>The errors of a bound configuration; empty when it is valid.</summary>
    public static IReadOnlyList<string> Validate(KataWorkflowsOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var errors = new List<string>();
        void Error(string key, string message) => errors.Add($"{Prefix}{key}: {message}");

        RequireAbsolute(o.StateDirectory, "StateDirectory", Error);
        RequireAbsolute(o.RunRoot, "RunRoot", Error);
        if (o.Store.Sqlite.Path is { } db && !Path.IsPathFullyQualified(db))
        {
            Error("Store:Sqlite:Path", $"must be an absolute path, got '{db}'");
        }

        if (o.MockDrivers.StateDirectory is { Length: > 0 } mockState && !Path.IsPathFullyQualified(mockState))
        {
            Error("MockDrivers:StateDirectory", $"must be an absolute path, got '{mockState}'");
        }

        if (!Enum.IsDefined(o.Store.Kind))
        {
            Error("Store:Kind", $"must be sqlite or memory, got '{o.Store.Kind}'");
        }

        Positive(o.Worker.MaxConcurrentOrchestrations, "Worker:MaxConcurrentOrchestrations", Error);
        Positive(o.Worker.MaxConcurrentActivities, "Worker:MaxConcurrentActivities", Error);
        Positive(o.Worker.MaxConcurrentEntities, "Worker:MaxConcurrentEntities", Error);
        if (o.Worker.MaxOrchestrationSessions < 0)
        {
            Error("Worker:MaxOrchestrationSessions", $"must be 0 or more, got {o.Worker.MaxOrchestrationSessions}");
        }
        if (o.Worker.ShutdownTimeout <= TimeSpan.Zero)
        {
            Error("Worker:ShutdownTimeout", $"must be positive, got {o.Worker.ShutdownTimeout}");
        }

        if (!string.IsNullOrWhiteSpace(o.Faults.Spec))
        {
            try
            {
                _ = FaultInjectionOptions.Parse(o.Faults.Spec);
            }
            catch (FormatException ex)
            {
                Error("Faults:Spec", ex.Message);
            }
            catch (ArgumentException ex)
            {
                Error("Faults:Spec", ex.Message);
            }
        }

        ValidateSandboxes(o.Sandboxes, Error);
        // Each driver's validator names the key from its own section ("KataAgent:SharedDirectory ...").
        var drivers = new[]
        {
            new KataAgentOptionsValidator().Validate(null, o.KataAgent),
            new QemuHypervisorOptionsValidator().Validate(null, o.Qemu),
            new TcFilterNetworkOptionsValidator().Validate(null, o.Network),
        };
        foreach (var failure in drivers.SelectMany(r => r.Failures ?? []))
        {
            errors.Add(failure.StartsWith(Prefix, StringComparison.Ordinal) ? failure : Prefix + failure);
        }

        ValidateListen(o.Listen, Error);
        ValidateWebConsole(o.WebConsole, Error);

        if (o.Limits.MaxRequestBytes is < 1024 or > 64 * 1024 * 1024)
        {
            Error("Limits:MaxRequestBytes", $"must be between 1024 and {64 * 1024 * 1024}, got {o.Limits.MaxRequestBytes}");
        }

        if (o.Logging.File is { Length: > 0 } file && !Path.IsPathFullyQualified(file))
        {
            Error("Logging:File", $"must be an absolute path, got '{file}'");
        }

        if (o.Logging.RetainedFiles < 1)
        {
            Error("Logging:RetainedFiles", $"must be at least 1, got {o.Logging.RetainedFiles}");
        }

        if (o.Telemetry.OtlpEndpoint is { Length: > 0 } otlp
            && (!Uri.TryCreate(otlp, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            Error("Telemetry:OtlpEndpoint", $"must be an absolute http:// or https:// URI, got '{otlp}'");
        }

        if (string.IsNullOrWhiteSpace(o.Telemetry.ServiceName))
        {
            Error("Telemetry:ServiceName", "must not be empty");
        }

        return errors;
    }

    private static void FindUnknownKeys(IConfigurationSection section, Type type, List<string> errors)
    {
        foreach (var child in section.GetChildren())
        {
            var property = type.GetProperty(child.Key, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase);
            if (property is null)
            {
                errors.Add($"{child.Path}: unknown key (expected one of {string.Join(", ", type.GetProperties().Select(p => p.Name))})");
            }
            else if (property.PropertyType.IsClass && property.PropertyType != typeof(string))
            {
                FindUnknownKeys(child, property.PropertyType, errors);
            }
        }
    }

    /// <summary>The driver types the host registers, by role: a default must name one of them.</summary>
    internal static readonly IReadOnlyList<string> Hypervisors = ["qemu", "mock"];

    /// <inheritdoc cref="Hypervisors"/>
    internal static readonly IReadOnlyList<string> Agents = ["kata", "noop"];

    /// <inheritdoc cref="Hypervisors"/>
    internal static readonly IReadOnlyList<string> Networks = ["tcfilter", "none"];

    private static void ValidateSandboxes(SandboxesSection sandboxes, Action<string, string> error)
    {
        OneOf(sandboxes.DefaultHypervisor, Hypervisors, "Sandboxes:DefaultHypervisor", error);
        OneOf(sandboxes.DefaultAgent, Agents, "Sandboxes:DefaultAgent", error);
        OneOf(sandboxes.DefaultNetwork, Networks, "Sandboxes:DefaultNetwork", error);
        if (sandboxes.DefaultMemoryMiB is < 64 or > 1024 * 1024)
        {
            error("Sandboxes:DefaultMemoryMiB", $"must be between 64 and {1024 * 1024}, got {sandboxes.DefaultMemoryMiB}");
        }

        if (sandboxes.GuestImageDirectory is not { Length: > 0 } image)
        {
            return;
        }

        if (!Path.IsPathFullyQualified(image))
        {
            error("Sandboxes:GuestImageDirectory", $"must be an absolute path, got '{image}'");
            return;
        }

        if (!Directory.Exists(image))
        {
            error("Sandboxes:GuestImageDirectory", $"'{image}' does not exist (build it with guest/build.sh '{image}')");
            return;
        }

        foreach (var file in new[] { SandboxesSection.KernelFile, SandboxesSection.InitrdFile })
        {
            if (!File.Exists(Path.Combine(image, file)))
            {
                error("Sandboxes:GuestImageDirectory", $"'{image}' has no {file} (is it guest/build.sh's output?)");
            }
        }
    }

    private static void OneOf(string? value, IReadOnlyList<string> allowed, string key, Action<string, string> error)
    {
        if (value is null || !allowed.Contains(value, StringComparer.Ordinal))
        {
            error(key, $"must be one of {string.Join(", ", allowed)}, got '{value}'");
        }
    }

    private static void ValidateListen(ListenSection listen, Action<string, string> error)
    {
        var unix = listen.UnixSocket;
        if (!string.IsNullOrEmpty(unix))
        {
            if (!Path.IsPathFullyQualified(unix))
            {
                error("Listen:UnixSocket", $"must be an absolute path, got '{unix}'");
            }
            else if (System.Text.Encoding.UTF8.GetByteCount(unix) > 107)
            {
                error("Listen:UnixSocket", $"is {System.Text.Encoding.UTF8.GetByteCount(unix)} bytes; a Unix socket path is at most 107");
            }
        }

        var tcp = listen.Tcp;
        if (tcp.Port is null)
        {
            if (string.IsNullOrEmpty(unix))
            {
                error("Listen:UnixSocket", "is empty and Listen:Tcp:Port is unset: the host would not listen anywhere");
            }

            return;
        }

        if (tcp.Port is < 0 or > 65535)
        {
            error("Listen:Tcp:Port", $"must be between 0 and 65535, got {tcp.Port}");
        }

        if (!IPAddress.TryParse(tcp.Address, out var address))
        {
            error("Listen:Tcp:Address", $"must be an IP address, got '{tcp.Address}'");
            return;
        }

        var tls = tcp.Tls;
        var anyTls = tls.CertificatePath is { Length: > 0 } || tls.KeyPath is { Length: > 0 } || tls.ClientCaPath is { Length: > 0 };
        if (tcp.AllowPlaintext)
        {
            if (!IPAddress.IsLoopback(address))
            {
                error("Listen:Tcp:AllowPlaintext", $"plaintext is allowed only on a loopback address, and Listen:Tcp:Address is {address}");
            }

            if (anyTls)
            {
                error("Listen:Tcp:AllowPlaintext", "is true and Listen:Tcp:Tls is configured too; choose one");
            }

            return;
        }

        RequireFile(tls.CertificatePath, "Listen:Tcp:Tls:CertificatePath", error);
        RequireFile(tls.KeyPath, "Listen:Tcp:Tls:KeyPath", error);
        RequireFile(tls.ClientCaPath, "Listen:Tcp:Tls:ClientCaPath", error);
    }

    private static void ValidateWebConsole(WebConsoleSection console, Action<string, string> error)
    {
        if (console.Port is null)
        {
            return;
        }

        if (console.Port is < 0 or > 65535)
        {
            error("WebConsole:Port", $"must be between 0 and 65535, got {console.Port}");
        }

        if (!IPAddress.TryParse(console.Address, out var address))
        {
            error("WebConsole:Address", $"must be an IP address, got '{console.Address}'");
            return;
        }

        var tls = console.Tls;
        var anyTls = tls.CertificatePath is { Length: > 0 } || tls.KeyPath is { Length: > 0 } || tls.ClientCaPath is { Length: > 0 };
        if (!anyTls && IPAddress.IsLoopback(address))
        {
            return;
        }

        const string Why = "is required for the web console off loopback (TLS with client certificates), and with any other WebConsole:Tls key";
        RequireFile(tls.CertificatePath, "WebConsole:Tls:CertificatePath", error, Why);
        RequireFile(tls.KeyPath, "WebConsole:Tls:KeyPath", error, Why);
        RequireFile(tls.ClientCaPath, "WebConsole:Tls:ClientCaPath", error, Why);
    }

    private static void RequireFile(string? path, string key, Action<string, string> error, string? whyRequired = null)
    {
        if (string.IsNullOrEmpty(path))
        {
            error(key, whyRequired ?? "is required for the TCP listener (TLS with client certificates), unless Listen:Tcp:AllowPlaintext is true on a loopback address");
        }
        else if (!File.Exists(path))
        {
            error(key, $"file '{path}' does not exist");
        }
    }

    private static void RequireAbsolute(string? path, string key, Action<string, string> error)
    {
        if (string.IsNullOrWhiteSpace(path) || !Path.IsPathFullyQualified(path))
        {
            error(key, $"must be an absolute path, got '{path}'");
        }
    }

    private static void Positive(int value, string key, Action<string, string> error)
    {
        if (value < 1)
        {
            error(key, $"must be at least 1, got {value}");
        }
    }
}
