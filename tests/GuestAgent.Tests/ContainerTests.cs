using System.Text.Json;
using Grpc.Core;
using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Agent.Legacy;
using KataWorkflows.TestSupport;
using Empty = Google.Protobuf.WellKnownTypes.Empty;

namespace KataWorkflows.GuestAgent.Tests;

/// <summary>Containers in the real guest, created, run, inspected and removed through the host's Kata agent driver.</summary>
[Collection(GuestVmGroup.Name)]
public sealed class ContainerTests(GuestVm vm)
{
    private const string Sb = GuestVm.SandboxId;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string NewId(string what) => $"{what}-{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task A_container_from_the_busybox_rootfs_prints_its_environment_and_WaitProcess_returns_its_exit_status()
    {
        vm.RequireGuest();
        var id = NewId("echo");
        await vm.RunAsync(id, ["/bin/sh", "-c", "echo $GREETING; exit 7"], "GREETING=hello from the guest");

        Assert.Equal("hello from the guest\n", await vm.ReadAllAsync(id, string.Empty));
        Assert.Equal(7, await vm.Agent.WaitProcessAsync(Sb, id, string.Empty, Ct));
        await vm.Agent.RemoveContainerAsync(Sb, id, Ct);
    }

    [Fact]
    public async Task ExecProcess_in_a_running_container_sees_the_guest_kernel_the_sandbox_hostname_and_its_own_namespaces()
    {
        vm.RequireGuest();
        var id = NewId("exec");
        await vm.RunAsync(id, ["sleep", "300"]);

        var release = (await vm.ExecAsync(id, "uname", "-r")).Trim();
        Assert.Equal(GuestQemu.KernelRelease(), release);
        Assert.NotEqual((await File.ReadAllTextAsync("/proc/sys/kernel/osrelease", Ct)).Trim(), release);
        Assert.Equal(GuestVm.SandboxHostname, (await vm.ExecAsync(id, "hostname")).Trim());

        // Its own UTS namespace: another container renaming itself leaves this one's hostname alone.
        var other = NewId("other");
        await vm.RunAsync(other, ["sleep", "300"]);
        await vm.ExecAsync(other, "hostname", "renamed");
        Assert.Equal("renamed", (await vm.ExecAsync(other, "hostname")).Trim());
        Assert.Equal(GuestVm.SandboxHostname, (await vm.ExecAsync(id, "hostname")).Trim());
        await vm.StopAsync(other);

        // In the container's PID namespace its first process is PID 1.
        Assert.Equal("sleep\0" + "300\0", await vm.ExecAsync(id, "cat", "/proc/1/cmdline"));
        await vm.StopAsync(id);
    }

    [Fact]
    public async Task ListProcesses_lists_a_sleep_that_SignalProcess_then_ends()
    {
        vm.RequireGuest();
        var id = NewId("sleep");
        await vm.RunAsync(id, ["sleep", "300"]);

        var rows = await vm.Agent.ListProcessesAsync(Sb, id, Ct);
        var sleep = Assert.Single(rows);
        Assert.Equal("sleep 300", sleep.Command);
        Assert.True(sleep.Pid > 1, "the guest's PID, not the namespace's");

        await vm.Agent.SignalProcessAsync(Sb, id, string.Empty, 9, all: false, Ct);
        Assert.Equal(128 + 9, await vm.Agent.WaitProcessAsync(Sb, id, string.Empty, Ct));
        Assert.Empty(await vm.Agent.ListProcessesAsync(Sb, id, Ct));
        await vm.Agent.RemoveContainerAsync(Sb, id, Ct);
    }

    [Fact]
    public async Task StatsContainer_reports_the_memory_and_pids_of_a_running_container()
    {
        vm.RequireGuest();
        var id = NewId("stats");
        await vm.RunAsync(id, ["sleep", "300"]);

        var stats = await vm.Agent.StatsContainerAsync(Sb, id, Ct);
        Assert.True(stats.MemoryUsageBytes > 0, $"memory usage {stats.MemoryUsageBytes}");
        Assert.Equal(1, stats.Pids);
        Assert.Equal(0, stats.MemoryLimitBytes);
        await vm.StopAsync(id);
    }

    [Fact]
    public async Task Pause_freezes_the_container_cgroup_Resume_thaws_it_and_UpdateContainer_writes_its_limits()
    {
        vm.RequireGuest();
        var id = NewId("pause");
        await vm.RunAsync(id, ["sleep", "300"]);

        // A second container mounts the guest's cgroup2 hierarchy and reads the first one's cgroup files from it.
        var inspector = NewId("inspect");
        await vm.RunAsync(inspector, ["sleep", "300"]);
        await vm.ExecAsync(inspector, "sh", "-c", "mkdir -p /dev/cg && mount -t cgroup2 cgroup2 /dev/cg");
        var cgroup = $"/dev/cg/kata/{id}";

        await vm.Agent.PauseContainerAsync(Sb, id, Ct);
        Assert.Equal("1", (await vm.ExecAsync(inspector, "cat", $"{cgroup}/cgroup.freeze")).Trim());
        Assert.Contains("frozen 1", await vm.ExecAsync(inspector, "cat", $"{cgroup}/cgroup.events"), StringComparison.Ordinal);
        var paused = await Agent.FailsAsync(() => vm.Agent.PauseContainerAsync(Sb, id, Ct));
        Assert.Equal(StatusCode.FailedPrecondition, paused.StatusCode);
        Assert.Equal($"Container {id} status paused, should be running", paused.AgentMessage());

        await vm.Agent.ResumeContainerAsync(Sb, id, Ct);
        Assert.Equal("0", (await vm.ExecAsync(inspector, "cat", $"{cgroup}/cgroup.freeze")).Trim());
        Assert.Contains("frozen 0", await vm.ExecAsync(inspector, "cat", $"{cgroup}/cgroup.events"), StringComparison.Ordinal);
        var running = await Agent.FailsAsync(() => vm.Agent.ResumeContainerAsync(Sb, id, Ct));
        Assert.Equal(StatusCode.FailedPrecondition, running.StatusCode);
        Assert.Equal($"Container {id} status running, should be paused", running.AgentMessage());

        await vm.Agent.UpdateContainerAsync(Sb, id, new ContainerResources { CpuQuota = 50000, CpuPeriod = 100000, MemoryLimitBytes = 64L << 20 }, Ct);
        Assert.Equal("50000 100000", (await vm.ExecAsync(inspector, "cat", $"{cgroup}/cpu.max")).Trim());
        Assert.Equal((64L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), (await vm.ExecAsync(inspector, "cat", $"{cgroup}/memory.max")).Trim());
        Assert.Equal(64L << 20, (await vm.Agent.StatsContainerAsync(Sb, id, Ct)).MemoryLimitBytes);

        await vm.StopAsync(id);
        await vm.StopAsync(inspector);
    }

    [Fact]
    public async Task A_container_runs_from_a_rootfs_on_a_virtio_blk_disk()
    {
        vm.RequireGuest();
        var id = NewId("blk");
        var mountPoint = $"/run/kata-containers/{id}/rootfs";
        var disk = new Storage { Driver = "blk", Source = "/dev/vda", Fstype = "ext4", MountPoint = mountPoint };
        var request = new CreateContainerRequest { ContainerId = id, ExecId = id, OCI = Agent.BusyboxSpec(mountPoint, ["/bin/sh", "-c", "grep -c nobody /etc/passwd; grep ' / ' /proc/mounts"]) };
        request.Storages.Add(disk);

        // The driver builds no block-device storage; the request is the test's, the connection and errors the driver's.
        await vm.Agent.InvokeAsync(Sb, "CreateContainer", request, Empty.Parser, Ct);
        await vm.Agent.StartContainerAsync(Sb, id, Ct);

        var output = await vm.ReadAllAsync(id, string.Empty);
        Assert.StartsWith("1\n", output, StringComparison.Ordinal);
        Assert.Contains("/dev/vda / ext4", output, StringComparison.Ordinal);
        Assert.Equal(0, await vm.Agent.WaitProcessAsync(Sb, id, string.Empty, Ct));
        await vm.Agent.RemoveContainerAsync(Sb, id, Ct);
    }

    [Fact]
    public async Task ListProcesses_in_the_json_format_gives_the_pids_of_the_container_cgroup()
    {
        vm.RequireGuest();
        var id = NewId("json");
        await vm.RunAsync(id, ["sleep", "300"]);

        var json = await vm.Agent.InvokeAsync(Sb, "ListProcesses", new ListProcessesRequest { ContainerId = id, Format = "json" }, ListProcessesResponse.Parser, Ct);
        var pids = JsonSerializer.Deserialize<int[]>(json.ProcessList.ToStringUtf8())!;
        Assert.Equal([(await vm.Agent.ListProcessesAsync(Sb, id, Ct)).Single().Pid], pids);
        await vm.StopAsync(id);
    }

    [Fact]
    public async Task The_driver_repeats_create_and_start_harmlessly_and_the_agent_gives_Kata_errors_for_duplicate_unknown_and_sandboxless_containers()
    {
        vm.RequireGuest();
        var id = NewId("dup");
        var config = await vm.BusyboxAsync(id, ["sleep", "300"]);
        await vm.Agent.CreateContainerAsync(Sb, config, Ct);
        await vm.Agent.StartContainerAsync(Sb, id, Ct);

        // IAgent's idempotency, against the real agent: a replayed create or start finds the container and is done.
        await vm.Agent.CreateContainerAsync(Sb, config, Ct);
        await vm.Agent.StartContainerAsync(Sb, id, Ct);
        Assert.Single(await vm.Agent.ListProcessesAsync(Sb, id, Ct));
        await vm.Agent.CreateSandboxAsync(Sb, new SandboxConfig { Id = Sb, Hostname = GuestVm.SandboxHostname }, Ct);

        // What the agent answers underneath, Kata's codes and words.
        var duplicate = await Agent.FailsAsync(() => vm.Agent.InvokeAsync(
            Sb, "CreateContainer", new CreateContainerRequest { ContainerId = id, ExecId = id, OCI = Agent.BusyboxSpec("/", ["true"]) }, Empty.Parser, Ct));
        Assert.Equal(StatusCode.AlreadyExists, duplicate.StatusCode);
        Assert.Equal($"Container {id} already exists, impossible to create", duplicate.AgentMessage());
        var again = await Agent.FailsAsync(() => vm.Agent.InvokeAsync(Sb, "CreateSandbox", new CreateSandboxRequest { Hostname = "x" }, Empty.Parser, Ct));
        Assert.Equal(StatusCode.AlreadyExists, again.StatusCode);
        Assert.Equal("Sandbox already started, impossible to start again", again.AgentMessage());
        var started = await Agent.FailsAsync(() => vm.Agent.InvokeAsync(Sb, "StartContainer", new StartContainerRequest { ContainerId = id }, Empty.Parser, Ct));
        Assert.Equal($"Container {id} status running, should be created", started.AgentMessage());

        var unknown = await Agent.FailsAsync(() => vm.Agent.StartContainerAsync(Sb, "no-such-container", Ct));
        Assert.IsType<KataAgentRejectedException>(unknown);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("Container no-such-container not found", unknown.AgentMessage());

        // DestroySandbox removes the running container; then a container has no sandbox to go in.
        await vm.Agent.DestroySandboxAsync(Sb, Ct);
        try
        {
            var gone = await Agent.FailsAsync(() => vm.Agent.StartContainerAsync(Sb, id, Ct));
            Assert.IsType<KataAgentRejectedException>(gone);
            Assert.Equal(StatusCode.FailedPrecondition, gone.StatusCode);
            Assert.Equal("Sandbox not started", gone.AgentMessage());
            var late = NewId("late");
            var sandboxless = await Agent.FailsAsync(async () => await vm.Agent.CreateContainerAsync(Sb, await vm.BusyboxAsync(late, ["true"]), Ct));
            Assert.IsType<KataAgentRejectedException>(sandboxless);
            Assert.Equal(StatusCode.FailedPrecondition, sandboxless.StatusCode);
            Assert.Equal("Sandbox not started, impossible to run a new container", sandboxless.AgentMessage());
            Assert.Equal(
                $"The Kata agent of sandbox '{Sb}' (socket {vm.Agent.SocketPathOf(Sb)}) answered grpc.AgentService/CreateContainer with FailedPrecondition: " +
                "Sandbox not started, impossible to run a new container",
                sandboxless.Message);
        }
        finally
        {
            await vm.Agent.CreateSandboxAsync(Sb, new SandboxConfig { Id = Sb, Hostname = GuestVm.SandboxHostname }, Ct);
        }

        var removed = await Agent.FailsAsync(() => vm.Agent.StartContainerAsync(Sb, id, Ct));
        Assert.Equal(StatusCode.NotFound, removed.StatusCode);
    }

    [Fact]
    public async Task A_process_the_launcher_cannot_run_fails_CreateContainer_with_Could_not_run_process()
    {
        vm.RequireGuest();
        var id = NewId("missing");
        var error = await Agent.FailsAsync(async () => await vm.Agent.CreateContainerAsync(Sb, await vm.BusyboxAsync(id, ["/bin/no-such-program"]), Ct));
        Assert.True(error.StatusCode == StatusCode.Internal, error.Message);
        Assert.StartsWith("Could not run process: /bin/no-such-program", error.AgentMessage(), StringComparison.Ordinal);
        var unknown = await Agent.FailsAsync(() => vm.Agent.StartContainerAsync(Sb, id, Ct));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        await vm.Agent.RemoveContainerAsync(Sb, id, Ct);
    }
}
