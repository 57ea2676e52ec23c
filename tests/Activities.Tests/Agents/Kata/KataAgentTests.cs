using Grpc.Core;
using KataWorkflows.Activities.Agents;
using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Activities.Store;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Ttrpc;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using AgentTypes = KataWorkflows.Protocol.Agent.Types;

namespace KataWorkflows.Activities.Tests.Agents.Kata;

/// <summary>
/// The Kata agent driver against a ttrpc server on the sandbox's agent socket that records the requests: these
/// tests pin the exact RPCs, fields and timeouts the driver sends, as Kata's kata_agent.go sends them.
/// </summary>
public sealed class KataAgentTests : IAsyncLifetime
{
    private const string Sandbox = "sb1";
    private const string A = "grpc.AgentService/";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly string _root = Path.Combine(Path.GetTempPath(), "kwf-" + Guid.NewGuid().ToString("N")[..8]);
    private RecordingAgentServer _guest = null!;
    private KataAgent _agent = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _agent = NewAgent();
        _guest = RecordingAgentServer.Start(_agent.SocketPathOf(Sandbox));
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _guest.DisposeAsync();

        // A bind mount left by a failed test must go first: a recursive delete would reach through it.
        for (var pass = 0; pass < 8 && BindMounts.MountsUnder(_root).Count > 0; pass++)
        {
            foreach (var mount in BindMounts.MountsUnder(_root))
            {
                BindMounts.Unbind(mount);
            }
        }

        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void The_agent_socket_is_Katas_serial_channel_path_under_the_run_root()
    {
        Assert.Equal(Path.Join(_root, "run", "vm", Sandbox, "kata.sock"), _agent.SocketPathOf(Sandbox));
        Assert.Equal("/run/vc/vm/sb1/kata.sock", KataGuestLayout.AgentSocket(HostStoreOptions.DefaultRunRoot, Sandbox));
    }

    [Fact]
    public async Task CreateSandbox_checks_health_then_sends_Katas_CreateSandbox()
    {
        var config = new SandboxConfig
        {
            Id = Sandbox,
            Hostname = new string('h', 70),
            ShmSize = 64 * 1024 * 1024,
            SharePidNs = true,
        };

        await _agent.CreateSandboxAsync(Sandbox, config, Ct);

        Assert.Equal(["grpc.Health/Check", A + "CreateSandbox"], _guest.Methods);
        var calls = _guest.Calls.ToArray();
        Assert.Equal(TimeSpan.FromSeconds(30), calls[0].Timeout);
        Assert.Equal(TimeSpan.FromSeconds(60), calls[1].Timeout);
        var request = (CreateSandboxRequest)calls[1].Request;
        Assert.Equal(new string('h', 64), request.Hostname);
        Assert.Equal(Sandbox, request.SandboxId);
        Assert.True(request.SandboxPidns);
        Assert.Empty(request.Dns);
        Assert.Equal(2, request.Storages.Count);
        var share = request.Storages[0];
        Assert.Equal(("9p", "kataShared", "9p", "/run/kata-containers/shared/containers/"), (share.Driver, share.Source, share.Fstype, share.MountPoint));
        Assert.Equal(["trans=virtio,version=9p2000.L,cache=mmap", "nodev", "msize=8192"], share.Options);
        var shm = request.Storages[1];
        Assert.Equal(("ephemeral", "shm", "tmpfs", "/run/kata-containers/sandbox/shm"), (shm.Driver, shm.Source, shm.Fstype, shm.MountPoint));
        Assert.Equal(["noexec", "nosuid", "nodev", "mode=1777", "size=67108864"], shm.Options);
    }

    [Fact]
    public async Task CreateSandbox_on_a_guest_that_has_it_already_succeeds()
    {
        _guest.Fail("CreateSandbox", new TtrpcException(StatusCode.AlreadyExists, "Sandbox already started, impossible to start again"));

        await _agent.CreateSandboxAsync(Sandbox, new SandboxConfig { Id = Sandbox }, Ct);

        Assert.Equal(["grpc.Health/Check", A + "CreateSandbox"], _guest.Methods);
    }

    [Fact]
    public async Task An_error_the_agent_answers_names_the_sandbox_the_socket_and_the_RPC()
    {
        _guest.Fail("CreateSandbox", new TtrpcException(StatusCode.Unimplemented, "a sandbox-wide PID namespace (sandbox_pidns) is not supported by this agent"));

        var e = await Assert.ThrowsAsync<KataAgentRejectedException>(() => _agent.CreateSandboxAsync(Sandbox, new SandboxConfig { Id = Sandbox, SharePidNs = true }, Ct));

        Assert.Equal(StatusCode.Unimplemented, e.StatusCode);
        Assert.Equal((Sandbox, _guest.SocketPath, "grpc.AgentService/CreateSandbox"), (e.SandboxId, e.SocketPath, e.Rpc));
        Assert.Equal(
            $"The Kata agent of sandbox 'sb1' (socket {_guest.SocketPath}) answered grpc.AgentService/CreateSandbox with Unimplemented: " +
            "a sandbox-wide PID namespace (sandbox_pidns) is not supported by this agent",
            e.Message);
    }

    [Fact]
    public async Task CreateContainer_sends_the_OCI_spec_Kata_builds_and_returns_the_exec_id_as_token()
    {
        var container = new ContainerConfig
        {
            Id = "c1",
            ReadonlyRootfs = true,
            Cmd = new Cmd { Args = ["/bin/sh", "-c", "sleep 1"], Envs = ["PATH=/bin", "A=b"], WorkDir = "/srv", User = "1000:100", Interactive = true },
            Annotations = new Dictionary<string, string> { ["io.katacontainers.pkg"] = "busybox" },
            Resources = new ContainerResources { CpuPeriod = 100_000, CpuQuota = 50_000, MemoryLimitBytes = 64 * 1024 * 1024 },
        };

        var process = await _agent.CreateContainerAsync(Sandbox, container, Ct);

        var request = _guest.Single<CreateContainerRequest>(A + "CreateContainer");
        Assert.Equal(("c1", "c1", false), (request.ContainerId, request.ExecId, request.SandboxPidns));
        Assert.Empty(request.Storages);
        Assert.Empty(request.Devices);
        var spec = request.OCI;
        Assert.Equal("1.0.2", spec.Version);
        Assert.Equal(("/run/kata-containers/shared/containers/c1/rootfs", true), (spec.Root.Path, spec.Root.Readonly));
        Assert.Equal(["/bin/sh", "-c", "sleep 1"], spec.Process.Args);
        Assert.Equal(["PATH=/bin", "A=b"], spec.Process.Env);
        Assert.Equal(("/srv", true), (spec.Process.Cwd, spec.Process.Terminal));
        Assert.Equal((1000u, 100u, ""), (spec.Process.User.UID, spec.Process.User.GID, spec.Process.User.Username));
        Assert.Equal("busybox", spec.Annotations["io.katacontainers.pkg"]);
        Assert.Equal(["pid", "ipc", "uts", "mount"], spec.Linux.Namespaces.Select(n => n.Type));
        Assert.Equal((50_000L, 100_000UL), (spec.Linux.Resources.CPU.Quota, spec.Linux.Resources.CPU.Period));
        Assert.Equal(64L * 1024 * 1024, spec.Linux.Resources.Memory.Limit);
        Assert.Equal(["/proc", "/dev", "/dev/pts", "/dev/shm", "/sys"], spec.Mounts.Select(m => m.Destination));
        Assert.Equal(("c1", -1), (process.Token, process.Pid));
        Assert.Equal(TimeSpan.FromSeconds(60), _guest.Calls.Single().Timeout);
    }

    [Fact]
    public async Task CreateContainer_of_a_container_the_guest_has_returns_its_process()
    {
        _guest.Fail("CreateContainer", new TtrpcException(StatusCode.AlreadyExists, "Container c1 already exists, impossible to create"));

        var process = await _agent.CreateContainerAsync(Sandbox, new ContainerConfig { Id = "c1" }, Ct);

        Assert.Equal(("c1", -1), (process.Token, process.Pid));
    }

    [Fact]
    public async Task Stopping_a_container_is_SIGKILL_to_all_then_WaitProcess_with_no_timeout_then_RemoveContainer()
    {
        await _agent.StartContainerAsync(Sandbox, "c1", Ct);
        await _agent.SignalProcessAsync(Sandbox, "c1", string.Empty, 9, all: true, Ct);
        _guest.WaitStatus = 137;
        var wait = _agent.WaitProcessAsync(Sandbox, "c1", string.Empty, Ct);
        await _guest.WaitArrived.Task.WaitAsync(Patience, Ct);
        _guest.WaitGate.SetResult();
        var status = await wait.WaitAsync(Patience, Ct);
        await _agent.RemoveContainerAsync(Sandbox, "c1", Ct);
        await _agent.SignalProcessAsync(Sandbox, "c1", "exec-7", 15, all: false, Ct);

        Assert.Equal([A + "StartContainer", A + "SignalProcess", A + "WaitProcess", A + "RemoveContainer", A + "SignalProcess"], _guest.Methods);
        var calls = _guest.Calls.ToArray();
        Assert.Equal("c1", ((StartContainerRequest)calls[0].Request).ContainerId);
        var kill = (SignalProcessRequest)calls[1].Request;
        Assert.Equal(("c1", "", 9u), (kill.ContainerId, kill.ExecId, kill.Signal));
        var waited = (WaitProcessRequest)calls[2].Request;
        Assert.Equal(("c1", "c1"), (waited.ContainerId, waited.ExecId));
        Assert.Null(calls[2].Timeout);
        var removed = (RemoveContainerRequest)calls[3].Request;
        Assert.Equal(("c1", 0u), (removed.ContainerId, removed.Timeout));
        var term = (SignalProcessRequest)calls[4].Request;
        Assert.Equal(("exec-7", 15u), (term.ExecId, term.Signal));
        Assert.Equal(137, status);
    }

    [Fact]
    public async Task Removing_a_container_the_guest_does_not_have_succeeds()
    {
        _guest.Fail("RemoveContainer", new TtrpcException(StatusCode.NotFound, "Container c1 not found"));

        await _agent.RemoveContainerAsync(Sandbox, "c1", Ct);

        Assert.Equal([A + "RemoveContainer"], _guest.Methods);
    }

    [Fact]
    public async Task ExecProcess_names_the_exec_by_a_fresh_uuid_that_is_its_token()
    {
        var cmd = new Cmd { Args = ["ps"], Envs = ["X=1"], WorkDir = "/", User = "nobody" };

        var first = await _agent.ExecProcessAsync(Sandbox, "c1", cmd, Ct);
        var second = await _agent.ExecProcessAsync(Sandbox, "c1", cmd, Ct);

        var requests = _guest.Calls.Select(c => (ExecProcessRequest)c.Request).ToArray();
        Assert.Equal(("c1", first.Token), (requests[0].ContainerId, requests[0].ExecId));
        Assert.True(Guid.TryParse(first.Token, out _));
        Assert.NotEqual(first.Token, second.Token);
        Assert.Equal(second.Token, requests[1].ExecId);
        Assert.Equal(("nobody", ""), (requests[0].StringUser.Uid, requests[0].StringUser.Gid));
        Assert.Equal("nobody", requests[0].Process.User.Username);
        Assert.Equal(["ps"], requests[0].Process.Args);
    }

    [Fact]
    public async Task The_other_container_calls_send_their_RPCs()
    {
        await _agent.UpdateContainerAsync(Sandbox, "c1", new ContainerResources { MemoryLimitBytes = 8 * 1024 * 1024 }, Ct);
        await _agent.PauseContainerAsync(Sandbox, "c1", Ct);
        await _agent.ResumeContainerAsync(Sandbox, "c1", Ct);

        Assert.Equal([A + "UpdateContainer", A + "PauseContainer", A + "ResumeContainer"], _guest.Methods);
        var update = _guest.Single<UpdateContainerRequest>(A + "UpdateContainer");
        Assert.Equal(8L * 1024 * 1024, update.Resources.Memory.Limit);
        Assert.Null(update.Resources.CPU);
        Assert.Equal("c1", _guest.Single<PauseContainerRequest>(A + "PauseContainer").ContainerId);
        Assert.Equal("c1", _guest.Single<ResumeContainerRequest>(A + "ResumeContainer").ContainerId);
    }

    [Fact]
    public async Task Stats_guest_details_and_processes_are_read_from_the_agents_answers()
    {
        _guest.Stats = new StatsContainerResponse
        {
            CgroupStats = new CgroupStats
            {
                CpuStats = new CpuStats { CpuUsage = new CpuUsage { TotalUsage = 5_000, UsageInKernelmode = 1_200 } },
                MemoryStats = new MemoryStats { Usage = new MemoryData { Usage = 4096, Limit = 9223372036854771712 } },
                PidsStats = new PidsStats { Current = 3 },
            },
        };
        _guest.GuestDetails = new GuestDetailsResponse
        {
            MemBlockSizeBytes = 128 * 1024 * 1024,
            SupportMemHotplugProbe = true,
            AgentDetails = new AgentDetails { SupportsSeccomp = true },
        };
        _guest.ProcessTable =
            "UID          PID    PPID  C STIME TTY          TIME CMD\n" +
            "root           1       0  0 10:00 ?        00:00:00 /bin/sh -c sleep 100\n" +
            "nobody        12       1  0 10:01 ?        00:00:00 sleep 100\n";

        var stats = await _agent.StatsContainerAsync(Sandbox, "c1", Ct);
        var details = await _agent.GetGuestDetailsAsync(Sandbox, Ct);
        var processes = await _agent.ListProcessesAsync(Sandbox, "c1", Ct);

        Assert.Equal(new ContainerStats(5_000, 1_200, 4096, 0, 3), stats);
        Assert.Equal(new GuestDetails { MemBlockSizeBytes = 128 * 1024 * 1024, SupportMemHotplugProbe = true, SupportSeccomp = true }, details);
        Assert.Equal([new ProcessRow(1, "root", "/bin/sh -c sleep 100"), new ProcessRow(12, "nobody", "sleep 100")], processes);
        var asked = _guest.Single<GuestDetailsRequest>(A + "GetGuestDetails");
        Assert.True(asked.MemBlockSize && asked.MemHotplugProbe);
        var ps = _guest.Single<Protocol.Agent.Legacy.ListProcessesRequest>(A + "ListProcesses");
        Assert.Equal(("c1", "table"), (ps.ContainerId, ps.Format));
        Assert.Equal(["-ef"], ps.Args);
    }

    [Fact]
    public async Task Interfaces_and_routes_travel_as_Katas_types()
    {
        var eth0 = new InterfaceRecord
        {
            Device = "eth0",
            Name = "eth0",
            IpAddresses = ["10.88.0.2/16", "fd00::2/64"],
            Mtu = 1450,
            HwAddr = "02:42:ac:11:00:02",
            PciAddr = "02/00",
            LinkType = "veth",
        };
        var routes = new List<RouteRecord>
        {
            new() { Dest = "", Gateway = "10.88.0.1", Device = "eth0" },
            new() { Dest = "10.88.0.0/16", Device = "eth0", Source = "10.88.0.2", Scope = 253 },
        };

        var applied = await _agent.UpdateInterfaceAsync(Sandbox, eth0, Ct);
        var appliedRoutes = await _agent.UpdateRoutesAsync(Sandbox, routes, Ct);

        var sent = _guest.Single<UpdateInterfaceRequest>(A + "UpdateInterface").Interface;
        Assert.Equal(("eth0", "eth0", 1450UL, "02:42:ac:11:00:02", "02/00", "veth"), (sent.Device, sent.Name, sent.Mtu, sent.HwAddr, sent.DevicePath, sent.Type));
        Assert.Equal(
            [(AgentTypes.IPFamily.V4, "10.88.0.2", "16"), (AgentTypes.IPFamily.V6, "fd00::2", "64")],
            sent.IPAddresses.Select(a => (a.Family, a.Address, a.Mask)));
        Assert.Equal(eth0, applied with { IpAddresses = eth0.IpAddresses });
        Assert.Equal(eth0.IpAddresses, applied.IpAddresses);
        var sentRoutes = _guest.Single<UpdateRoutesRequest>(A + "UpdateRoutes").Routes.Routes_;
        Assert.Equal([("", "10.88.0.1", "eth0", "", 0u), ("10.88.0.0/16", "", "eth0", "10.88.0.2", 253u)], sentRoutes.Select(r => (r.Dest, r.Gateway, r.Device, r.Source, r.Scope)));
        Assert.Equal(routes, appliedRoutes);

        _guest.Interfaces = new Interfaces { Interfaces_ = { sent } };
        _guest.Routes = new Routes { Routes_ = { sentRoutes } };
        Assert.Equal("eth0", Assert.Single(await _agent.ListInterfacesAsync(Sandbox, Ct)).Name);
        Assert.Equal(routes, await _agent.ListRoutesAsync(Sandbox, Ct));
    }

    [Fact]
    public async Task Calls_share_one_connection_and_dial_again_after_the_agent_restarts()
    {
        await _agent.PauseContainerAsync(Sandbox, "c1", Ct);
        await _guest.DisposeAsync();
        _guest = RecordingAgentServer.Start(_agent.SocketPathOf(Sandbox));

        // Whether or not the driver noticed the old connection close, the request never went out on it: the call
        // dials again and is sent once, on the new connection.
        await _agent.ResumeContainerAsync(Sandbox, "c1", Ct);
        await _agent.StartContainerAsync(Sandbox, "c1", Ct);

        Assert.Equal([A + "ResumeContainer", A + "StartContainer"], _guest.Methods);
    }

    [Fact]
    public async Task A_sandbox_with_no_agent_socket_fails_with_an_error_naming_it_and_its_socket()
    {
        await using var agent = NewAgent(o => o.DialTimeout = TimeSpan.FromMilliseconds(300));

        var e = await Assert.ThrowsAsync<KataAgentException>(() => agent.StartContainerAsync("sb2", "c1", Ct));

        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Equal(("sb2", agent.SocketPathOf("sb2")), (e.SandboxId, e.SocketPath));
        Assert.StartsWith($"The Kata agent of sandbox 'sb2' is unreachable: nothing accepted a connection on {agent.SocketPathOf("sb2")} within 00:00:00.3000000", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("is the sandbox's VM running?", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_guest_that_accepts_but_never_answers_fails_the_health_check_at_its_timeout()
    {
        await using var agent = NewAgent(o => o.CheckTimeout = TimeSpan.FromMilliseconds(300));
        var socket = agent.SocketPathOf("sb3");
        Directory.CreateDirectory(Path.GetDirectoryName(socket)!);
        using var silent = TtrpcUnixSocket.Listen(socket);
        var accepted = silent.AcceptAsync(Ct);

        var e = await Assert.ThrowsAsync<KataAgentException>(() => agent.CreateSandboxAsync("sb3", new SandboxConfig { Id = "sb3" }, Ct));

        using var connection = await accepted;
        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
        Assert.Equal("grpc.Health/Check", e.Rpc);
        Assert.Equal($"The Kata agent of sandbox 'sb3' did not answer grpc.Health/Check on {socket} within 00:00:00.3000000.", e.Message);
    }

    [Fact]
    public async Task DestroySandbox_sends_DestroySandbox_and_closes_the_connection_and_is_done_when_the_VM_is_gone()
    {
        await _agent.DestroySandboxAsync(Sandbox, Ct);
        await _guest.DisposeAsync();
        _guest = RecordingAgentServer.Start(Path.Join(_root, "unused", "kata.sock"));

        await _agent.DestroySandboxAsync(Sandbox, Ct);

        Assert.Empty(_guest.Calls);
    }

    [Fact]
    public async Task A_container_rootfs_is_bind_mounted_into_the_share_and_unmounted_on_remove()
    {
        Assert.SkipWhen(
            Environment.UserName != "root" && Environment.GetEnvironmentVariable("CI") is null,
            "bind mounts need root (under CI=true this test runs and fails without it)");
        await using var agent = NewAgent(o => o.BindMountRootfs = true);
        var rootfs = Directory.CreateDirectory(Path.Join(_root, "bundle", "rootfs")).FullName;
        await File.WriteAllTextAsync(Path.Join(rootfs, "marker"), "from the bundle", Ct);
        var shared = KataGuestLayout.HostRootfs(Path.Join(_root, "shared"), Sandbox, "c1");

        await agent.CreateContainerAsync(Sandbox, new ContainerConfig { Id = "c1", RootFs = rootfs }, Ct);
        var seen = await File.ReadAllTextAsync(Path.Join(shared, "marker"), Ct);
        await agent.CreateContainerAsync(Sandbox, new ContainerConfig { Id = "c1", RootFs = rootfs }, Ct);
        var mountedTwice = File.ReadLines("/proc/self/mountinfo").Count(l => l.Contains(" " + shared + " ", StringComparison.Ordinal));
        await agent.RemoveContainerAsync(Sandbox, "c1", Ct);

        Assert.Equal("from the bundle", seen);
        Assert.Equal(1, mountedTwice);
        Assert.False(Directory.Exists(shared));
        Assert.True(File.Exists(Path.Join(rootfs, "marker")));
    }

    [Fact]
    public async Task A_container_without_a_rootfs_is_refused_when_the_driver_shares_rootfs()
    {
        await using var agent = NewAgent(o => o.BindMountRootfs = true);

        var e = await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() => agent.CreateContainerAsync(Sandbox, new ContainerConfig { Id = "c1" }, Ct));

        Assert.Contains("Container 'c1' of sandbox 'sb1' has no rootFs", e.Message, StringComparison.Ordinal);
        Assert.Empty(_guest.Calls);
    }

    private KataAgent NewAgent(Action<KataAgentOptions>? configure = null)
    {
        var options = new KataAgentOptions { SharedDirectory = Path.Join(_root, "shared"), BindMountRootfs = false };
        configure?.Invoke(options);
        return new KataAgent(
            Options.Create(options),
            Options.Create(new HostStoreOptions { RunRoot = Path.Join(_root, "run") }),
            TimeProvider.System,
            NullLogger<KataAgent>.Instance);
    }
}
