using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Activities.Hypervisors.Qemu;
using KataWorkflows.Activities.Networks.TcFilter;
using KataWorkflows.Storage.Sqlite;
using Serilog.Events;

namespace KataWorkflows.Host.Configuration;

/// <summary>The host's configuration: the <c>KataWorkflows</c> section of appsettings.json and <c>KataWorkflows__*</c> variables.</summary>
internal sealed class KataWorkflowsOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "KataWorkflows";

    /// <summary>Where the host keeps its state (the SQLite store by default).</summary>
    public string StateDirectory { get; set; } = "/var/lib/kata-workflows";

    /// <summary>Kata's run root: the sandboxes' host records live under it.</summary>
    public string RunRoot { get; set; } = "/run/vc";

    /// <summary>The orchestration store.</summary>
    public StoreSection Store { get; set; } = new();

    /// <summary>The worker's concurrency.</summary>
    public WorkerSection Worker { get; set; } = new();

    /// <summary>Fault injection for tests and drills.</summary>
    public FaultsSection Faults { get; set; } = new();

    /// <summary>The mock hypervisor and noop agent (tests and drills).</summary>
    public MockDriversSection MockDrivers { get; set; } = new();

    /// <summary>What a sandbox config that leaves its drivers or guest image empty gets.</summary>
    public SandboxesSection Sandboxes { get; set; } = new();

    /// <summary>The Kata agent driver (agentType <c>kata</c>).</summary>
    public KataAgentOptions KataAgent { get; set; } = new();

    /// <summary>The QEMU hypervisor driver (hypervisorType <c>qemu</c>).</summary>
    public QemuHypervisorOptions Qemu { get; set; } = new();

    /// <summary>The tcfilter network driver (interworkingModel <c>tcfilter</c>): its address pool and names.</summary>
    public TcFilterNetworkOptions Network { get; set; } = new();

    /// <summary>Where the host listens.</summary>
    public ListenSection Listen { get; set; } = new();

    /// <summary>The read-only web console; off unless a port is given.</summary>
    public WebConsoleSection WebConsole { get; set; } = new();

    /// <summary>Request limits.</summary>
    public LimitsSection Limits { get; set; } = new();

    /// <summary>Logs.</summary>
    public LoggingSection Logging { get; set; } = new();

    /// <summary>Traces and metrics.</summary>
    public TelemetrySection Telemetry { get; set; } = new();
}

/// <summary>Which store backs the engine.</summary>
internal enum StoreKind
{
    /// <summary>The embedded SQLite store (one file, WAL).</summary>
    Sqlite,

    /// <summary>The in-memory store: nothing survives a restart (tests and demos).</summary>
    Memory,
}

/// <summary><c>KataWorkflows:Store</c>.</summary>
internal sealed class StoreSection
{
    /// <summary><c>sqlite</c> or <c>memory</c>.</summary>
    public StoreKind Kind { get; set; } = StoreKind.Sqlite;

    /// <summary>The SQLite store.</summary>
    public SqliteSection Sqlite { get; set; } = new();
}

/// <summary><c>KataWorkflows:Store:Sqlite</c>.</summary>
internal sealed class SqliteSection
{
    /// <summary>The database file; <c>&lt;StateDirectory&gt;/store.db</c> when unset.</summary>
    public string? Path { get; set; }

    /// <summary><c>full</c> (durable at every commit) or <c>normal</c>.</summary>
    public SqliteSynchronousMode Synchronous { get; set; } = SqliteSynchronousMode.Full;
}

/// <summary><c>KataWorkflows:Worker</c>.</summary>
internal sealed class WorkerSection
{
    /// <summary>Orchestration episodes run at once.</summary>
    public int MaxConcurrentOrchestrations { get; set; } = Environment.ProcessorCount * 4;

    /// <summary>Activities run at once.</summary>
    public int MaxConcurrentActivities { get; set; } = 64;

    /// <summary>Entity batches run at once.</summary>
    public int MaxConcurrentEntities { get; set; } = Environment.ProcessorCount * 2;

    /// <summary>Running orchestrations whose code waits in memory between episodes (extended sessions); 0 turns them off.</summary>
    public int MaxOrchestrationSessions { get; set; } = 1024;

    /// <summary>How long a stopping host lets running work finish.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary><c>KataWorkflows:Faults</c>.</summary>
internal sealed class FaultsSection
{
    /// <summary>Fault rules in the <c>FaultInjectionOptions.Spec</c> syntax, e.g. <c>sandbox.startVM:fail:1</c>; none when unset.</summary>
    public string? Spec { get; set; }
}

/// <summary><c>KataWorkflows:MockDrivers</c>.</summary>
internal sealed class MockDriversSection
{
    /// <summary>
    /// Where the mock hypervisor's VMs and the noop agent's guests are kept as files, so a restarted host finds what the
    /// previous one left running; in memory (lost with the process) when unset.
    /// </summary>
    public string? StateDirectory { get; set; }
}

/// <summary>
/// <c>KataWorkflows:Sandboxes</c>: the defaults the host fills into a CreateSandbox or RunSandbox config that leaves a
/// field absent or empty, before the run starts (so the run's input, and its history, hold what was used).
/// </summary>
internal sealed class SandboxesSection
{
    /// <summary>The guest image's kernel file name in <see cref="GuestImageDirectory"/> (what guest/build.sh writes).</summary>
    public const string KernelFile = "vmlinuz";

    /// <summary>The guest image's initramfs file name in <see cref="GuestImageDirectory"/>.</summary>
    public const string InitrdFile = "initrd.gz";

    /// <summary>The hypervisor type of a config without one (<c>qemu</c> or <c>mock</c>).</summary>
    public string DefaultHypervisor { get; set; } = "qemu";

    /// <summary>The agent type of a config without one (<c>kata</c> or <c>noop</c>).</summary>
    public string DefaultAgent { get; set; } = "kata";

    /// <summary>The interworking model of a config without one (<c>tcfilter</c> or <c>none</c>).</summary>
    public string DefaultNetwork { get; set; } = "tcfilter";

    /// <summary>
    /// The guest image (guest/build.sh's output directory): a config without a kernel gets its <c>vmlinuz</c>, and one
    /// without an image or initrd its <c>initrd.gz</c>. None when unset: configs must name their kernel and image.
    /// </summary>
    public string? GuestImageDirectory { get; set; }

    /// <summary>The memory of a VM whose config leaves it 0, in MiB; Kata's 2048 when unset.</summary>
    public int? DefaultMemoryMiB { get; set; }
}

/// <summary><c>KataWorkflows:Listen</c>.</summary>
internal sealed class ListenSection
{
    /// <summary>The default Unix socket.</summary>
    public const string DefaultUnixSocket = "/run/kata-workflows/kwf.sock";

    /// <summary>The Unix socket path; empty disables it.</summary>
    public string? UnixSocket { get; set; } = DefaultUnixSocket;

    /// <summary>The TCP listener; off unless a port is given.</summary>
    public TcpSection Tcp { get; set; } = new();
}

/// <summary><c>KataWorkflows:Listen:Tcp</c>.</summary>
internal sealed class TcpSection
{
    /// <summary>The address to bind.</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>The port; the listener is off when null (0 picks a free port).</summary>
    public int? Port { get; set; }

    /// <summary>Allow plaintext HTTP/2 (only on a loopback address).</summary>
    public bool AllowPlaintext { get; set; }

    /// <summary>TLS with client certificates.</summary>
    public TlsSection Tls { get; set; } = new();
}

/// <summary><c>KataWorkflows:Listen:Tcp:Tls</c>.</summary>
internal sealed class TlsSection
{
    /// <summary>The server certificate (PEM).</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The server certificate's private key (PEM).</summary>
    public string? KeyPath { get; set; }

    /// <summary>The CA (PEM) that client certificates must chain to.</summary>
    public string? ClientCaPath { get; set; }
}

/// <summary><c>KataWorkflows:WebConsole</c>: the read-only web console on its own HTTP listener.</summary>
internal sealed class WebConsoleSection
{
    /// <summary>The address to bind: loopback by default; any other address needs <see cref="Tls"/>.</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>The port; the console is off when null (0 picks a free port).</summary>
    public int? Port { get; set; }

    /// <summary>
    /// TLS with required client certificates, validated as the gRPC TCP listener's are; required off loopback,
    /// optional on it.
    /// </summary>
    public TlsSection Tls { get; set; } = new();
}

/// <summary><c>KataWorkflows:Limits</c>.</summary>
internal sealed class LimitsSection
{
    /// <summary>The default request size limit: 4 MiB.</summary>
    public const int DefaultMaxRequestBytes = 4 * 1024 * 1024;

    /// <summary>The largest request message accepted.</summary>
    public int MaxRequestBytes { get; set; } = DefaultMaxRequestBytes;
}

/// <summary><c>KataWorkflows:Logging</c>.</summary>
internal sealed class LoggingSection
{
    /// <summary>The rolling compact-JSON log file (one per day); none when unset.</summary>
    public string? File { get; set; }

    /// <summary>The least level written.</summary>
    public LogEventLevel MinimumLevel { get; set; } = LogEventLevel.Information;

    /// <summary>How many rolled files are kept.</summary>
    public int RetainedFiles { get; set; } = 14;
}

/// <summary><c>KataWorkflows:Telemetry</c>.</summary>
internal sealed class TelemetrySection
{
    /// <summary>The OTLP endpoint (e.g. <c>http://localhost:4317</c>); no export when unset.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>The service name reported with traces and metrics.</summary>
    public string ServiceName { get; set; } = "kata-workflows";
}
