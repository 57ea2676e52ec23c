using System.Text;
using Grpc.Core;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Ttrpc;
using Empty = Google.Protobuf.WellKnownTypes.Empty;
using Process = KataWorkflows.Protocol.Agent.Process;

namespace KataWorkflows.GuestAgent.Tests;

/// <summary>The calls the tests make, typed, over the guest's ttrpc client.</summary>
internal static class Agent
{
    public static Spec BusyboxSpec(string hostname, string rootfs, IEnumerable<string> args, params string[] env)
    {
        var process = new Process { Cwd = "/", User = new User { UID = 0, GID = 0 } };
        process.Args.AddRange(args);
        process.Env.Add("PATH=/bin:/sbin:/usr/bin:/usr/sbin");
        process.Env.AddRange(env);
        var spec = new Spec
        {
            Version = "1.0.2",
            Hostname = hostname,
            Root = new Root { Path = rootfs },
            Process = process,
        };
        spec.Mounts.Add(Mount("/proc", "proc", "proc", "nosuid", "noexec", "nodev"));
        spec.Mounts.Add(Mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"));
        spec.Mounts.Add(Mount("/tmp", "tmpfs", "tmpfs", "nosuid", "nodev"));
        return spec;
    }

    public static Mount Mount(string destination, string type, string source, params string[] options)
    {
        var mount = new Mount { Destination = destination, Type = type, Source = source };
        mount.Options.AddRange(options);
        return mount;
    }

    public static Task CreateAsync(this GuestVm vm, string id, Spec spec, params Storage[] storages)
    {
        var request = new CreateContainerRequest { ContainerId = id, ExecId = id, OCI = spec };
        request.Storages.AddRange(storages);
        return vm.AgentAsync("CreateContainer", request, Empty.Parser);
    }

    public static Task StartAsync(this GuestVm vm, string id) =>
        vm.AgentAsync("StartContainer", new StartContainerRequest { ContainerId = id }, Empty.Parser);

    /// <summary>Creates and starts a container from the busybox rootfs on the share.</summary>
    public static async Task RunAsync(this GuestVm vm, string id, IEnumerable<string> args, params string[] env)
    {
        await vm.CreateAsync(id, BusyboxSpec(id, GuestVm.RootfsInGuest, args, env));
        await vm.StartAsync(id);
    }

    public static Task RemoveAsync(this GuestVm vm, string id) =>
        vm.AgentAsync("RemoveContainer", new RemoveContainerRequest { ContainerId = id, Timeout = 20 }, Empty.Parser);

    public static async Task<int> WaitAsync(this GuestVm vm, string id, string execId) =>
        (await vm.AgentAsync("WaitProcess", new WaitProcessRequest { ContainerId = id, ExecId = execId }, WaitProcessResponse.Parser)).Status;

    /// <summary>Reads a process's stdout (or stderr) until the agent answers end of file.</summary>
    public static async Task<string> ReadAllAsync(this GuestVm vm, string id, string execId, bool stdout = true)
    {
        var text = new StringBuilder();
        while (true)
        {
            try
            {
                var chunk = await vm.AgentAsync(stdout ? "ReadStdout" : "ReadStderr",
                    new ReadStreamRequest { ContainerId = id, ExecId = execId, Len = 4096 }, ReadStreamResponse.Parser);
                text.Append(chunk.Data.ToStringUtf8());
            }
            catch (TtrpcException end) when (end.StatusCode == StatusCode.Unknown && end.StatusMessage == "EOF")
            {
                return text.ToString();
            }
        }
    }

    /// <summary>Runs a process in a running container and returns its stdout once it exited with status 0.</summary>
    public static async Task<string> ExecAsync(this GuestVm vm, string id, string execId, params string[] args)
    {
        var process = new Process { Cwd = "/", User = new User() };
        process.Args.AddRange(args);
        process.Env.Add("PATH=/bin:/sbin");
        await vm.AgentAsync("ExecProcess", new ExecProcessRequest { ContainerId = id, ExecId = execId, Process = process }, Empty.Parser);
        var output = await vm.ReadAllAsync(id, execId);
        var status = await vm.WaitAsync(id, execId);
        Assert.True(status == 0, $"{string.Join(' ', args)} exited with {status}; stdout: {output}; stderr: see the console:\n{vm.Console}");
        return output;
    }

    public static async Task<TtrpcException> FailsAsync(Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (TtrpcException error)
        {
            return error;
        }
        Assert.Fail("the call succeeded; an error status was expected");
        return null!;
    }
}
