using System.Text;
using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Protocol.Agent;

namespace KataWorkflows.GuestAgent.Tests;

/// <summary>What the tests do with the guest, all through the host's Kata agent driver.</summary>
internal static class Agent
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Creates and starts a busybox container.</summary>
    public static async Task RunAsync(this GuestVm vm, string id, IReadOnlyList<string> args, params string[] env)
    {
        await vm.Agent.CreateContainerAsync(GuestVm.SandboxId, await vm.BusyboxAsync(id, args, env), Ct);
        await vm.Agent.StartContainerAsync(GuestVm.SandboxId, id, Ct);
    }

    /// <summary>Kills a container's processes, waits for its first one and removes it, as Kata's stopContainer does.</summary>
    public static async Task StopAsync(this GuestVm vm, string id)
    {
        await vm.Agent.SignalProcessAsync(GuestVm.SandboxId, id, string.Empty, 9, all: true, Ct);
        await vm.Agent.WaitProcessAsync(GuestVm.SandboxId, id, string.Empty, Ct);
        await vm.Agent.RemoveContainerAsync(GuestVm.SandboxId, id, Ct);
    }

    /// <summary>Reads a process's stdout (or stderr) until the agent answers end of file.</summary>
    public static async Task<string> ReadAllAsync(this GuestVm vm, string id, string execId, bool stdout = true)
    {
        var text = new StringBuilder();
        while (true)
        {
            var chunk = stdout
                ? await vm.Agent.ReadStdoutAsync(GuestVm.SandboxId, id, execId, 4096, Ct)
                : await vm.Agent.ReadStderrAsync(GuestVm.SandboxId, id, execId, 4096, Ct);
            if (chunk.Length == 0)
            {
                return text.ToString();
            }

            text.Append(Encoding.UTF8.GetString(chunk));
        }
    }

    /// <summary>Runs a process in a running container (ExecProcess) and returns its stdout once it exited with status 0.</summary>
    public static async Task<string> ExecAsync(this GuestVm vm, string id, params string[] args)
    {
        var process = await vm.Agent.ExecProcessAsync(GuestVm.SandboxId, id, new Cmd { Args = args, Envs = ["PATH=/bin:/sbin"] }, Ct);
        var output = await vm.ReadAllAsync(id, process.Token);
        var status = await vm.Agent.WaitProcessAsync(GuestVm.SandboxId, id, process.Token, Ct);
        Assert.True(status == 0, $"{string.Join(' ', args)} exited with {status}; stdout: {output}; the console:\n{vm.Console}");
        return output;
    }

    /// <summary>The busybox spec the tests send when they call the agent with a request the driver does not build.</summary>
    public static Spec BusyboxSpec(string rootfs, IEnumerable<string> args)
    {
        var process = new Protocol.Agent.Process { Cwd = "/", User = new User { UID = 0, GID = 0 } };
        process.Args.AddRange(args);
        process.Env.Add("PATH=/bin:/sbin:/usr/bin:/usr/sbin");
        var spec = new Spec { Version = KataAgent.OciVersion, Root = new Root { Path = rootfs }, Process = process };
        var proc = new Mount { Destination = "/proc", Type = "proc", Source = "proc" };
        var dev = new Mount { Destination = "/dev", Type = "tmpfs", Source = "tmpfs" };
        dev.Options.AddRange(["nosuid", "mode=755"]);
        spec.Mounts.Add(proc);
        spec.Mounts.Add(dev);
        return spec;
    }

    public static async Task<KataAgentException> FailsAsync(Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (KataAgentException error)
        {
            return error;
        }

        Assert.Fail("the call succeeded; an error was expected");
        return null!;
    }

    /// <summary>The agent's own words in a driver error (the status message of the answer).</summary>
    public static string AgentMessage(this KataAgentException error) =>
        error.InnerException is Protocol.Ttrpc.TtrpcException ttrpc ? ttrpc.StatusMessage : error.Message;
}
