using System.Text.Json;
using Grpc.Core;
using KataWorkflows.Protocol.Agent.Legacy;
using KataWorkflows.Protocol.Agent;
using Empty = Google.Protobuf.WellKnownTypes.Empty;

namespace KataWorkflows.GuestAgent.Tests;

[Collection(GuestVmGroup.Name)]
public sealed class ContainerTests(GuestVm vm)
{
    private static string NewId(string what) => $"{what}-{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task A_container_from_the_busybox_rootfs_prints_its_environment_and_WaitProcess_returns_its_exit_status()
    {
        vm.RequireGuest();
        var id = NewId("echo");
        await vm.RunAsync(id, ["/bin/sh", "-c", "echo $GREETING; exit 7"], "GREETING=hello from the guest");

        Assert.Equal("hello from the guest\n", await vm.ReadAllAsync(id, id));
        Assert.Equal(7, await vm.WaitAsync(id, id));
        await vm.RemoveAsync(id);
    }

    [Fact]
    public async Task ExecProcess_in_a_running_container_sees_the_guest_kernel_its_own_hostname_and_PID_namespace()
    {
        vm.RequireGuest();
        var id = NewId("exec");
        await vm.RunAsync(id, ["sleep", "300"]);

        var release = (await vm.ExecAsync(id, "uname", "uname", "-r")).Trim();
        var guestKernel = File.ReadAllLines(Path.Join(vm.ImageDirectory, "manifest"))
            .Single(l => l.StartsWith("kernel_version=", StringComparison.Ordinal))["kernel_version=".Length..];
        Assert.Equal(guestKernel, release);
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), release);

        Assert.Equal(id, (await vm.ExecAsync(id, "hostname", "hostname")).Trim());
        // Its own UTS namespace: a later container's hostname does not change this one's.
        var other = NewId("other");
        await vm.RunAsync(other, ["sleep", "300"]);
        Assert.Equal(other, (await vm.ExecAsync(other, "hostname", "hostname")).Trim());
        Assert.Equal(id, (await vm.ExecAsync(id, "hostname2", "hostname")).Trim());
        await vm.AgentAsync("SignalProcess", new SignalProcessRequest { ContainerId = other, Signal = 9 }, Empty.Parser);
        await vm.WaitAsync(other, other);
        await vm.RemoveAsync(other);
        // In the container's PID namespace its first process is PID 1.
        Assert.Equal("sleep\0" + "300\0", await vm.ExecAsync(id, "pid1", "cat", "/proc/1/cmdline"));

        await vm.AgentAsync("SignalProcess", new SignalProcessRequest { ContainerId = id, Signal = 9 }, Empty.Parser);
        await vm.WaitAsync(id, id);
        await vm.RemoveAsync(id);
    }

    [Fact]
    public async Task ListProcesses_lists_a_sleep_that_SignalProcess_then_ends()
    {
        vm.RequireGuest();
        var id = NewId("sleep");
        await vm.RunAsync(id, ["sleep", "300"]);

        var json = await vm.AgentAsync("ListProcesses", new ListProcessesRequest { ContainerId = id, Format = "json" }, ListProcessesResponse.Parser);
        var pids = JsonSerializer.Deserialize<int[]>(json.ProcessList.ToStringUtf8())!;
        Assert.Single(pids);
        var table = (await vm.AgentAsync("ListProcesses", new ListProcessesRequest { ContainerId = id, Format = "table" }, ListProcessesResponse.Parser))
            .ProcessList.ToStringUtf8().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, table.Length);
        Assert.Contains("PID", table[0], StringComparison.Ordinal);
        Assert.Contains("sleep 300", table[1], StringComparison.Ordinal);
        Assert.StartsWith(pids[0].ToString(System.Globalization.CultureInfo.InvariantCulture), table[1].Trim(), StringComparison.Ordinal);

        await vm.AgentAsync("SignalProcess", new SignalProcessRequest { ContainerId = id, ExecId = id, Signal = 9 }, Empty.Parser);
        Assert.Equal(128 + 9, await vm.WaitAsync(id, id));
        var after = await vm.AgentAsync("ListProcesses", new ListProcessesRequest { ContainerId = id, Format = "json" }, ListProcessesResponse.Parser);
        Assert.Equal("[]", after.ProcessList.ToStringUtf8());
        await vm.RemoveAsync(id);
    }

    [Fact]
    public async Task StatsContainer_reports_the_memory_and_pids_of_a_running_container()
    {
        vm.RequireGuest();
        var id = NewId("stats");
        await vm.RunAsync(id, ["sleep", "300"]);

        var stats = (await vm.AgentAsync("StatsContainer", new StatsContainerRequest { ContainerId = id }, StatsContainerResponse.Parser)).CgroupStats;
        Assert.True(stats.MemoryStats.Usage.Usage > 0, $"memory usage {stats.MemoryStats.Usage.Usage}");
        Assert.Equal(1UL, stats.PidsStats.Current);
        Assert.True(stats.MemoryStats.Stats.ContainsKey("anon"), "memory.stat's keys are passed on");

        await vm.AgentAsync("SignalProcess", new SignalProcessRequest { ContainerId = id, Signal = 9 }, Empty.Parser);
        await vm.WaitAsync(id, id);
        await vm.RemoveAsync(id);
    }

    [Fact]
    public async Task Pause_freezes_the_container_cgroup_Resume_thaws_it_and_UpdateContainer_writes_its_limits()
    {
        vm.RequireGuest();
        var id = NewId("pause");
        await vm.RunAsync(id, ["sleep", "300"]);
        // A second container with the cgroup2 hierarchy mounted reads the first one's cgroup files.
        var inspector = NewId("inspect");
        var spec = Agent.BusyboxSpec(inspector, GuestVm.RootfsInGuest, ["sleep", "300"]);
        spec.Mounts.Add(Agent.Mount("/sys/fs/cgroup", "cgroup2", "cgroup2", "nosuid", "nodev", "noexec"));
        await vm.CreateAsync(inspector, spec);
        await vm.StartAsync(inspector);
        var cgroup = $"/sys/fs/cgroup/kata/{id}";

        await vm.AgentAsync("PauseContainer", new PauseContainerRequest { ContainerId = id }, Empty.Parser);
        Assert.Equal("1", (await vm.ExecAsync(inspector, "freeze1", "cat", $"{cgroup}/cgroup.freeze")).Trim());
        Assert.Contains("frozen 1", await vm.ExecAsync(inspector, "events1", "cat", $"{cgroup}/cgroup.events"), StringComparison.Ordinal);
        var paused = await Agent.FailsAsync(() => vm.AgentAsync("PauseContainer", new PauseContainerRequest { ContainerId = id }, Empty.Parser));
        Assert.Equal(StatusCode.FailedPrecondition, paused.StatusCode);

        await vm.AgentAsync("ResumeContainer", new ResumeContainerRequest { ContainerId = id }, Empty.Parser);
        Assert.Equal("0", (await vm.ExecAsync(inspector, "freeze0", "cat", $"{cgroup}/cgroup.freeze")).Trim());
        Assert.Contains("frozen 0", await vm.ExecAsync(inspector, "events0", "cat", $"{cgroup}/cgroup.events"), StringComparison.Ordinal);

        var update = new UpdateContainerRequest
        {
            ContainerId = id,
            Resources = new LinuxResources
            {
                CPU = new LinuxCPU { Quota = 50000, Period = 100000 },
                Memory = new LinuxMemory { Limit = 64L << 20 },
                Pids = new LinuxPids { Limit = 32 },
            },
        };
        await vm.AgentAsync("UpdateContainer", update, Empty.Parser);
        Assert.Equal("50000 100000", (await vm.ExecAsync(inspector, "cpu", "cat", $"{cgroup}/cpu.max")).Trim());
        Assert.Equal((64L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture),
            (await vm.ExecAsync(inspector, "memory", "cat", $"{cgroup}/memory.max")).Trim());
        Assert.Equal("32", (await vm.ExecAsync(inspector, "pids", "cat", $"{cgroup}/pids.max")).Trim());
        var stats = await vm.AgentAsync("StatsContainer", new StatsContainerRequest { ContainerId = id }, StatsContainerResponse.Parser);
        Assert.Equal(64UL << 20, stats.CgroupStats.MemoryStats.Usage.Limit);

        foreach (var container in (string[])[id, inspector])
        {
            await vm.AgentAsync("SignalProcess", new SignalProcessRequest { ContainerId = container, Signal = 9 }, Empty.Parser);
            await vm.WaitAsync(container, container);
            await vm.RemoveAsync(container);
        }
    }

    [Fact]
    public async Task A_container_runs_from_a_rootfs_on_a_virtio_blk_disk()
    {
        vm.RequireGuest();
        var id = NewId("blk");
        var mountPoint = $"/run/kata-containers/{id}/rootfs";
        var disk = new Storage { Driver = "blk", Source = "/dev/vda", Fstype = "ext4", MountPoint = mountPoint };
        await vm.CreateAsync(id, Agent.BusyboxSpec(id, mountPoint, ["/bin/sh", "-c", "cat /etc/passwd | grep -c nobody; grep ' / ' /proc/mounts"]), disk);
        await vm.StartAsync(id);

        var output = await vm.ReadAllAsync(id, id);
        Assert.StartsWith("1\n", output, StringComparison.Ordinal);
        Assert.Equal(0, await vm.WaitAsync(id, id));
        await vm.RemoveAsync(id);
    }

    [Fact]
    public async Task Duplicate_unknown_and_sandboxless_containers_get_the_errors_Kata_agent_gives()
    {
        vm.RequireGuest();
        var id = NewId("dup");
        await vm.RunAsync(id, ["sleep", "300"]);

        var duplicate = await Agent.FailsAsync(() => vm.CreateAsync(id, Agent.BusyboxSpec(id, GuestVm.RootfsInGuest, ["true"])));
        Assert.Equal(StatusCode.AlreadyExists, duplicate.StatusCode);
        Assert.Equal($"Container {id} already exists, impossible to create", duplicate.StatusMessage);

        var unknown = await Agent.FailsAsync(() => vm.StartAsync("no-such-container"));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("Container no-such-container not found", unknown.StatusMessage);

        var started = await Agent.FailsAsync(() => vm.StartAsync(id));
        Assert.Equal(StatusCode.FailedPrecondition, started.StatusCode);
        Assert.Equal($"Container {id} status running, should be created", started.StatusMessage);

        var again = await Agent.FailsAsync(vm.CreateSandboxAsync);
        Assert.Equal(StatusCode.AlreadyExists, again.StatusCode);
        Assert.Equal("Sandbox already started, impossible to start again", again.StatusMessage);

        // DestroySandbox removes the running container; then a container has no sandbox to go in.
        await vm.AgentAsync("DestroySandbox", new DestroySandboxRequest(), Empty.Parser);
        try
        {
            var gone = await Agent.FailsAsync(() => vm.StartAsync(id));
            Assert.Equal(StatusCode.FailedPrecondition, gone.StatusCode);
            Assert.Equal("Sandbox not started", gone.StatusMessage);
            var sandboxless = await Agent.FailsAsync(() => vm.CreateAsync(NewId("late"), Agent.BusyboxSpec("late", GuestVm.RootfsInGuest, ["true"])));
            Assert.Equal(StatusCode.FailedPrecondition, sandboxless.StatusCode);
            Assert.Equal("Sandbox not started, impossible to run a new container", sandboxless.StatusMessage);
        }
        finally
        {
            await vm.CreateSandboxAsync();
        }
        var removed = await Agent.FailsAsync(() => vm.StartAsync(id));
        Assert.Equal(StatusCode.NotFound, removed.StatusCode);
    }

    [Fact]
    public async Task A_process_the_launcher_cannot_run_fails_CreateContainer_with_Could_not_run_process()
    {
        vm.RequireGuest();
        var id = NewId("missing");
        var error = await Agent.FailsAsync(() => vm.CreateAsync(id, Agent.BusyboxSpec(id, GuestVm.RootfsInGuest, ["/bin/no-such-program"])));
        Assert.True(error.StatusCode == StatusCode.Internal, error.Message);
        Assert.StartsWith("Could not run process: /bin/no-such-program", error.StatusMessage, StringComparison.Ordinal);
        var unknown = await Agent.FailsAsync(() => vm.StartAsync(id));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }
}
