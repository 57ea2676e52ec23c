using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Empty = Google.Protobuf.WellKnownTypes.Empty;
using KataWorkflows.GuestAgent.Cgroups;
using KataWorkflows.GuestAgent.Containers;
using KataWorkflows.GuestAgent.Launch;
using KataWorkflows.Protocol.Agent.Legacy;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Ttrpc;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.GuestAgent.Service;

/// <summary>
/// Kata's agent API (<c>grpc.AgentService</c> and <c>grpc.Health</c>) as this guest implements it: the sandbox,
/// its containers and their processes, the guest's network and a few guest-wide calls. Errors carry the gRPC codes
/// and messages Kata's agent answers with.
/// </summary>
internal sealed partial class AgentService(AgentOptions options, ILogger logger) : IDisposable
{
    private readonly Dictionary<string, Container> _containers = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _sandboxRunning;
    private string _sandboxId = "";
    private IReadOnlyList<string> _sandboxMounts = [];

    public async Task<Empty> CreateContainerAsync(CreateContainerRequest request, CancellationToken cancellationToken)
    {
        RequireId(request.ContainerId);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_sandboxRunning)
            {
                throw new TtrpcException(StatusCode.FailedPrecondition, "Sandbox not started, impossible to run a new container");
            }
            if (TryGetContainer(request.ContainerId, out _))
            {
                throw new TtrpcException(StatusCode.AlreadyExists, $"Container {request.ContainerId} already exists, impossible to create");
            }
            var spec = request.OCI ?? throw new TtrpcException(StatusCode.InvalidArgument, $"container {request.ContainerId}: the request has no OCI spec");
            var process = spec.Process ?? throw new TtrpcException(StatusCode.InvalidArgument, $"container {request.ContainerId}: the OCI spec has no process");
            var rootfs = spec.Root?.Path;
            if (string.IsNullOrEmpty(rootfs))
            {
                throw new TtrpcException(StatusCode.InvalidArgument, $"container {request.ContainerId}: the OCI spec has no root path");
            }

            var mounts = StorageMounter.MountAll(request.Storages);
            ContainerCgroup? cgroup = null;
            ContainerProcess? init = null;
            try
            {
                if (!Directory.Exists(rootfs))
                {
                    throw new TtrpcException(StatusCode.NotFound, $"container {request.ContainerId}: the rootfs {rootfs} does not exist in the guest");
                }
                cgroup = ContainerCgroup.Create(options.CgroupRoot, options.CgroupParent, request.ContainerId);
                if (spec.Linux?.Resources is { } resources)
                {
                    ApplyResources(cgroup, resources);
                }
                var template = new LaunchSpec
                {
                    Rootfs = rootfs,
                    CgroupPath = cgroup.Path,
                    Args = [.. process.Args],
                    Env = [.. process.Env],
                    Cwd = string.IsNullOrEmpty(process.Cwd) ? "/" : process.Cwd,
                    Uid = process.User?.UID ?? 0,
                    Gid = process.User?.GID ?? 0,
                    AdditionalGids = [.. process.User?.AdditionalGids ?? []],
                    Hostname = string.IsNullOrEmpty(spec.Hostname) ? null : spec.Hostname,
                    Mounts = [.. spec.Mounts.Select(m => new LaunchMount(m.Destination, m.Type, m.Source, [.. m.Options]))],
                    ReadonlyRootfs = spec.Root!.Readonly,
                };
                var stateDirectory = Path.Join(options.StateDirectory, request.ContainerId);
                var container = new Container(request.ContainerId, stateDirectory, template, cgroup, mounts);
                var execId = string.IsNullOrEmpty(request.ExecId) ? request.ContainerId : request.ExecId;
                init = await LaunchAsync(() => ContainerProcess.LaunchAsync(execId, template, stateDirectory, null, cancellationToken))
                    .ConfigureAwait(false);
                container.SetInit(init);
                lock (_containers)
                {
                    _containers[request.ContainerId] = container;
                }
                Logs.ContainerCreated(logger, request.ContainerId, init.Pid, rootfs);
                return new Empty();
            }
            catch
            {
                cgroup?.KillAll();
                if (init is not null)
                {
                    init.Kill();
                    await init.Exited.ConfigureAwait(false);
                    init.Dispose();
                }
                if (cgroup is not null)
                {
                    await cgroup.RemoveAsync(CancellationToken.None).ConfigureAwait(false);
                }
                StorageMounter.UnmountAll(mounts);
                throw;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<Empty> StartContainerAsync(StartContainerRequest request, CancellationToken cancellationToken)
    {
        var container = GetContainer(request.ContainerId);
        var status = container.Status;
        if (status != ContainerStatus.Created)
        {
            throw new TtrpcException(StatusCode.FailedPrecondition,
                $"Container {request.ContainerId} status {Name(status)}, should be {Name(ContainerStatus.Created)}");
        }
        await LaunchAsync(async () =>
        {
            await container.Init!.StartAsync(cancellationToken).ConfigureAwait(false);
            return container.Init;
        }).ConfigureAwait(false);
        container.MarkStarted();
        Logs.ContainerStarted(logger, request.ContainerId);
        return new Empty();
    }

    public async Task<Empty> RemoveContainerAsync(RemoveContainerRequest request, CancellationToken cancellationToken)
    {
        var container = GetContainer(request.ContainerId);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (request.Timeout > 0)
        {
            timeout.CancelAfter(TimeSpan.FromSeconds(request.Timeout));
        }
        try
        {
            await DestroyAsync(container, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TtrpcException(StatusCode.DeadlineExceeded, $"Timeout reached after {request.Timeout}s");
        }
        lock (_containers)
        {
            _containers.Remove(request.ContainerId);
        }
        Logs.ContainerRemoved(logger, request.ContainerId);
        return new Empty();
    }

    /// <summary>Kills whatever still runs in the container, waits for it, and removes its mounts and cgroup.</summary>
    private async Task DestroyAsync(Container container, CancellationToken cancellationToken)
    {
        if (container.Status == ContainerStatus.Paused)
        {
            await container.Cgroup.SetFrozenAsync(false, cancellationToken).ConfigureAwait(false);
        }
        foreach (var process in container.AllProcesses())
        {
            process.Kill();
        }
        container.Cgroup.KillAll();
        foreach (var process in container.AllProcesses())
        {
            await process.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
            process.Dispose();
        }
        await container.Cgroup.RemoveAsync(cancellationToken).ConfigureAwait(false);
        StorageMounter.UnmountAll(container.Mounts);
        if (Directory.Exists(container.StateDirectory))
        {
            Directory.Delete(container.StateDirectory, recursive: true);
        }
    }

    public async Task<Empty> ExecProcessAsync(ExecProcessRequest request, CancellationToken cancellationToken)
    {
        var container = GetContainer(request.ContainerId);
        if (container.Status == ContainerStatus.Stopped)
        {
            throw new TtrpcException(StatusCode.FailedPrecondition, $"Cannot exec in stopped container {request.ContainerId}");
        }
        RequireId(request.ExecId, "exec_id");
        if (container.HasProcess(request.ExecId))
        {
            throw new TtrpcException(StatusCode.AlreadyExists, $"Process {request.ExecId} already exists (container {request.ContainerId})");
        }
        var process = request.Process ?? throw new TtrpcException(StatusCode.InvalidArgument, $"exec {request.ExecId}: the request has no process");
        var spec = container.Template with
        {
            Args = [.. process.Args],
            Env = [.. process.Env],
            Cwd = string.IsNullOrEmpty(process.Cwd) ? "/" : process.Cwd,
            Uid = process.User?.UID ?? 0,
            Gid = process.User?.GID ?? 0,
            AdditionalGids = [.. process.User?.AdditionalGids ?? []],
            Hostname = null,
            Mounts = [],
            ReadonlyRootfs = false,
        };
        var launched = await LaunchAsync(() =>
            ContainerProcess.LaunchAsync(request.ExecId, spec, container.StateDirectory, container.Init!.Pid, cancellationToken)).ConfigureAwait(false);
        if (!container.TryAddProcess(launched))
        {
            launched.Kill();
            launched.Dispose();
            throw new TtrpcException(StatusCode.AlreadyExists, $"Process {request.ExecId} already exists (container {request.ContainerId})");
        }
        Logs.ProcessExecuted(logger, request.ContainerId, request.ExecId, launched.Pid);
        return new Empty();
    }

    public Task<Empty> SignalProcessAsync(SignalProcessRequest request, CancellationToken cancellationToken)
    {
        if (!_sandboxRunning)
        {
            throw new TtrpcException(StatusCode.FailedPrecondition, "Sandbox not started, impossible to signal the container");
        }
        if (!TryGetContainer(request.ContainerId, out var container))
        {
            throw new TtrpcException(StatusCode.FailedPrecondition,
                $"Could not signal process {request.ExecId}: Container {request.ContainerId} not found");
        }
        var signal = (int)request.Signal;
        if (container.Status == ContainerStatus.Stopped)
        {
            Logs.SignalDiscarded(logger, request.ContainerId, signal);
            return Task.FromResult(new Empty());
        }
        if (string.IsNullOrEmpty(request.ExecId))
        {
            // Every process of the container, those its processes started included: they are all in its cgroup.
            foreach (var pid in container.Cgroup.Processes())
            {
                Native.Libc.Kill(pid, signal);
            }
            return Task.FromResult(new Empty());
        }
        var process = container.FindProcess(request.ExecId)
            ?? throw new TtrpcException(StatusCode.NotFound,
                $"Could not signal process: Process {request.ExecId} not found (container {request.ContainerId})");
        process.Signal(signal);
        return Task.FromResult(new Empty());
    }

    public async Task<WaitProcessResponse> WaitProcessAsync(WaitProcessRequest request, CancellationToken cancellationToken)
    {
        var (container, process) = GetProcess(request.ContainerId, request.ExecId);
        var status = await process.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
        container.ForgetProcess(process);
        return new WaitProcessResponse { Status = status };
    }

    public async Task<ListProcessesResponse> ListProcessesAsync(ListProcessesRequest request, CancellationToken cancellationToken)
    {
        var container = GetContainer(request.ContainerId);
        var pids = container.Cgroup.Processes();
        switch (request.Format)
        {
            case "json":
                return new ListProcessesResponse
                {
                    ProcessList = ByteString.CopyFromUtf8(JsonSerializer.Serialize(pids.ToArray(), AgentJsonContext.Default.Int32Array)),
                };
            case "table":
                break;
            default:
                throw new TtrpcException(StatusCode.Unknown, "invalid format option");
        }
        var output = await Network.IpTool.RunAsync(["ps", .. request.Args.Count > 0 ? request.Args : ["-ef"]], cancellationToken)
            .ConfigureAwait(false);
        var lines = output.Split('\n');
        var pidIndex = Array.IndexOf(lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries), "PID");
        if (pidIndex < 0)
        {
            throw new TtrpcException(StatusCode.Unknown, "failed to find PID field in ps output");
        }
        var result = new StringBuilder(lines[0]).Append('\n');
        foreach (var line in lines.Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > pidIndex && int.TryParse(fields[pidIndex], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pids.Contains(pid))
            {
                result.Append(line).Append('\n');
            }
        }
        return new ListProcessesResponse { ProcessList = ByteString.CopyFromUtf8(result.ToString()) };
    }

    public Task<Empty> UpdateContainerAsync(UpdateContainerRequest request, CancellationToken cancellationToken)
    {
        var container = GetContainer(request.ContainerId);
        if (request.Resources is { } resources)
        {
            ApplyResources(container.Cgroup, resources);
        }
        return Task.FromResult(new Empty());
    }

    private static void ApplyResources(ContainerCgroup cgroup, LinuxResources resources)
    {
        if (resources.CPU is { } cpu)
        {
            if (cpu.Quota != 0 || cpu.Period != 0)
            {
                cgroup.SetCpuMax(cpu.Quota, cpu.Period);
            }
            if (cpu.Shares != 0)
            {
                cgroup.SetCpuShares(cpu.Shares);
            }
        }
        if (resources.Memory is { Limit: not 0 } memory)
        {
            cgroup.SetMemoryMax(memory.Limit);
        }
        if (resources.Pids is { Limit: not 0 } pids)
        {
            cgroup.SetPidsMax(pids.Limit);
        }
    }

    public Task<StatsContainerResponse> StatsContainerAsync(StatsContainerRequest request, CancellationToken cancellationToken)
    {
        var container = GetContainer(request.ContainerId);
        var cgroup = container.Cgroup;
        var cpu = cgroup.ReadKeyed("cpu.stat");
        var memory = cgroup.ReadKeyed("memory.stat");
        var memoryStats = new MemoryStats
        {
            Cache = memory.GetValueOrDefault("file"),
            Usage = new MemoryData
            {
                Usage = cgroup.ReadValue("memory.current"),
                MaxUsage = cgroup.ReadValue("memory.peak"),
                Limit = cgroup.ReadValue("memory.max"),
                Failcnt = cgroup.ReadKeyed("memory.events").GetValueOrDefault("max"),
            },
            SwapUsage = new MemoryData { Usage = cgroup.ReadValue("memory.swap.current"), Limit = cgroup.ReadValue("memory.swap.max") },
            KernelUsage = new MemoryData { Usage = memory.GetValueOrDefault("kernel") },
            UseHierarchy = true,
        };
        memoryStats.Stats.Add(memory);
        var response = new StatsContainerResponse
        {
            CgroupStats = new CgroupStats
            {
                CpuStats = new CpuStats
                {
                    CpuUsage = new CpuUsage
                    {
                        TotalUsage = cpu.GetValueOrDefault("usage_usec") * 1000,
                        UsageInUsermode = cpu.GetValueOrDefault("user_usec") * 1000,
                        UsageInKernelmode = cpu.GetValueOrDefault("system_usec") * 1000,
                    },
                    ThrottlingData = new ThrottlingData
                    {
                        Periods = cpu.GetValueOrDefault("nr_periods"),
                        ThrottledPeriods = cpu.GetValueOrDefault("nr_throttled"),
                        ThrottledTime = cpu.GetValueOrDefault("throttled_usec") * 1000,
                    },
                },
                MemoryStats = memoryStats,
                PidsStats = new PidsStats { Current = cgroup.ReadValue("pids.current"), Limit = cgroup.ReadValue("pids.max") },
            },
        };
        response.NetworkStats.AddRange(ReadNetworkStats());
        return Task.FromResult(response);
    }

    public Task<Empty> PauseContainerAsync(PauseContainerRequest request, CancellationToken cancellationToken) =>
        FreezeAsync(request.ContainerId, frozen: true, cancellationToken);

    public Task<Empty> ResumeContainerAsync(ResumeContainerRequest request, CancellationToken cancellationToken) =>
        FreezeAsync(request.ContainerId, frozen: false, cancellationToken);

    /// <summary>Pause (freeze a running container's cgroup) or resume (thaw a paused one), with Kata's error for the wrong state.</summary>
    private async Task<Empty> FreezeAsync(string containerId, bool frozen, CancellationToken cancellationToken)
    {
        var container = GetContainer(containerId);
        var status = container.Status;
        var expected = frozen ? ContainerStatus.Running : ContainerStatus.Paused;
        if (status != expected)
        {
            throw new TtrpcException(StatusCode.FailedPrecondition,
                $"Container {containerId} status {Name(status)}, should be {Name(expected)}");
        }
        await container.Cgroup.SetFrozenAsync(frozen, cancellationToken).ConfigureAwait(false);
        container.MarkPaused(frozen);
        return new Empty();
    }

    public async Task<WriteStreamResponse> WriteStdinAsync(WriteStreamRequest request, CancellationToken cancellationToken)
    {
        var (_, process) = GetProcess(request.ContainerId, request.ExecId);
        try
        {
            var written = await process.WriteStdinAsync(request.Data.Memory, cancellationToken).ConfigureAwait(false);
            return new WriteStreamResponse { Len = (uint)written };
        }
        catch (InvalidOperationException error)
        {
            throw new TtrpcException(StatusCode.FailedPrecondition, error.Message);
        }
        catch (IOException error)
        {
            throw new TtrpcException(StatusCode.Unknown, $"write stdin of process {request.ExecId}: {error.Message}");
        }
    }

    public Task<ReadStreamResponse> ReadStdoutAsync(ReadStreamRequest request, CancellationToken cancellationToken) =>
        ReadStreamAsync(request, stdout: true, cancellationToken);

    public Task<ReadStreamResponse> ReadStderrAsync(ReadStreamRequest request, CancellationToken cancellationToken) =>
        ReadStreamAsync(request, stdout: false, cancellationToken);

    private async Task<ReadStreamResponse> ReadStreamAsync(ReadStreamRequest request, bool stdout, CancellationToken cancellationToken)
    {
        var (_, process) = GetProcess(request.ContainerId, request.ExecId);
        var data = await process.ReadAsync(stdout, (int)Math.Min(request.Len, int.MaxValue), cancellationToken).ConfigureAwait(false);
        // Kata's agent answers a read at end of file with the reader's error, io.EOF, which gRPC carries as Unknown "EOF".
        return data is null
            ? throw new TtrpcException(StatusCode.Unknown, "EOF")
            : new ReadStreamResponse { Data = ByteString.CopyFrom(data) };
    }

    public Task<Empty> CloseStdinAsync(CloseStdinRequest request, CancellationToken cancellationToken)
    {
        var (_, process) = GetProcess(request.ContainerId, request.ExecId);
        process.CloseStdin();
        return Task.FromResult(new Empty());
    }

    public Task<Empty> TtyWinResizeAsync(TtyWinResizeRequest request, CancellationToken cancellationToken)
    {
        GetProcess(request.ContainerId, request.ExecId);
        // No process of this agent has a terminal (Process.Terminal is not supported), as Kata answers then.
        throw new TtrpcException(StatusCode.FailedPrecondition, "Terminal is not set, impossible to resize it");
    }

    private Container GetContainer(string containerId)
    {
        if (!_sandboxRunning)
        {
            throw new TtrpcException(StatusCode.FailedPrecondition, "Sandbox not started");
        }
        return TryGetContainer(containerId, out var container)
            ? container
            : throw new TtrpcException(StatusCode.NotFound, $"Container {containerId} not found");
    }

    private bool TryGetContainer(string containerId, out Container container)
    {
        lock (_containers)
        {
            return _containers.TryGetValue(containerId, out container!);
        }
    }

    private (Container Container, ContainerProcess Process) GetProcess(string containerId, string execId)
    {
        var container = GetContainer(containerId);
        var process = container.FindProcess(string.IsNullOrEmpty(execId) ? container.Init!.ExecId : execId)
            ?? throw new TtrpcException(StatusCode.NotFound, $"Process {execId} not found (container {containerId})");
        return (container, process);
    }

    /// <summary>Runs a launch; what the launcher reports as failed becomes Kata's "Could not run process".</summary>
    private static async Task<ContainerProcess> LaunchAsync(Func<Task<ContainerProcess>> launch)
    {
        try
        {
            return await launch().ConfigureAwait(false);
        }
        catch (InvalidOperationException error)
        {
            throw new TtrpcException(StatusCode.Internal, $"Could not run process: {error.Message}");
        }
    }

    private static void RequireId(string id, string field = "container_id")
    {
        if (string.IsNullOrEmpty(id))
        {
            throw new TtrpcException(StatusCode.InvalidArgument, $"{field} cannot be empty");
        }
        if (id.Contains('/', StringComparison.Ordinal) || id is "." or "..")
        {
            throw new TtrpcException(StatusCode.InvalidArgument, $"{field} \"{id}\" is not a valid id");
        }
    }

    public void Dispose() => _gate.Dispose();

    private static string Name(ContainerStatus status) => status.ToString().ToLowerInvariant();
}
