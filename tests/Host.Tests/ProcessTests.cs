using System.Diagnostics;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using KataWorkflows.Host.Tests.Harness;
using KataWorkflows.Protocol.V1;

namespace KataWorkflows.Host.Tests;

/// <summary>The host as systemd runs it: a process that says READY=1 once it serves, STOPPING=1 on SIGTERM, and exits 0.</summary>
public sealed class ProcessTests
{
    [Fact]
    public async Task The_host_notifies_systemd_serves_and_stops_cleanly_on_SIGTERM()
    {
        using var dir = TempDir.Create();
        var notifyPath = Path.Combine(dir.Path, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
        var ct = TestContext.Current.CancellationToken;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));

        using var process = Start(TestHost.Arguments(dir), new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notifyPath });
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);

        Assert.Equal("READY=1", await ReceiveAsync(notify, timeout.Token));
        var socket = Path.Combine(dir.Path, "sock", "kwf.sock");
        using (var channel = TestHost.UnixChannel(socket))
        {
            var created = await new Sandboxes.SandboxesClient(channel).CreateSandboxAsync(Requests.Create("sb1"), cancellationToken: timeout.Token);
            Assert.Equal(("Completed", "Ready"), (created.Status, Requests.SandboxState(created)));
        }

        Signal(process.Id, "TERM");
        Assert.Equal("STOPPING=1", await ReceiveAsync(notify, timeout.Token));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{await stdout}\n{await stderr}");
        Assert.False(File.Exists(socket));

        // The store closed cleanly: a second host opens it and finds the sandbox.
        using var again = Start(TestHost.Arguments(dir), new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notifyPath });
        _ = again.StandardError.ReadToEndAsync(timeout.Token);
        _ = again.StandardOutput.ReadToEndAsync(timeout.Token);
        Assert.Equal("READY=1", await ReceiveAsync(notify, timeout.Token));
        using (var channel = TestHost.UnixChannel(socket))
        {
            var status = await new Sandboxes.SandboxesClient(channel).StatusSandboxAsync(new SandboxRef { SandboxId = "sb1" }, cancellationToken: timeout.Token);
            Assert.Contains("\"Ready\"", status.StatusJson, StringComparison.Ordinal);
        }

        Signal(again.Id, "TERM");
        await again.WaitForExitAsync(timeout.Token);
        Assert.Equal(0, again.ExitCode);
    }

    [Fact]
    public async Task A_bad_environment_variable_fails_the_start_with_exit_code_2_naming_the_key()
    {
        using var dir = TempDir.Create();
        using var process = Start(TestHost.Arguments(dir), new Dictionary<string, string> { ["KataWorkflows__Listen__Tcp__Port"] = "99999" });
        var stderr = await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);

        Assert.Equal(2, process.ExitCode);
        Assert.Contains("KataWorkflows:Listen:Tcp:Port", stderr, StringComparison.Ordinal);
    }

    private static Process Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(HostAssembly());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return Process.Start(start) ?? throw new InvalidOperationException("the host process did not start");
    }

    private static async Task<string> ReceiveAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[256];
        var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
        return Encoding.UTF8.GetString(buffer, 0, read);
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    private static string HostAssembly() =>
        typeof(ProcessTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "HostAssembly").Value!;

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path ? path : "dotnet";
}
