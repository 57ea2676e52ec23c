using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using KataWorkflows.Activities.Agents.Kata;

namespace KataWorkflows.GuestAgent.Tests;

/// <summary>
/// The agent calls beyond containers and networks (health, version, guest details, stdio, CPU and memory onlining,
/// the guest's clock, file copies), each through the host's Kata agent driver.
/// </summary>
[Collection(GuestVmGroup.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class GuestCallsTests(GuestVm vm)
{
    private const string Sb = GuestVm.SandboxId;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string NewId(string what) => $"{what}-{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task The_agent_answers_Check_Version_and_GetGuestDetails()
    {
        vm.RequireGuest();
        await vm.Agent.CheckAsync(Sb, Ct);
        var version = await vm.Agent.VersionAsync(Sb, Ct);
        Assert.Equal("0.0.1", version.GrpcVersion);
        Assert.False(string.IsNullOrEmpty(version.AgentVersion));
        var details = await vm.Agent.GetGuestDetailsAsync(Sb, Ct);
        Assert.True(details.MemBlockSizeBytes > 0);
        TestContext.Current.SendDiagnosticMessage($"guest booted ({vm.Accelerator}) to the agent's first answer in {vm.BootTime.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task WriteStdin_and_CloseStdin_feed_a_process_whose_stdout_and_stderr_are_read_back()
    {
        vm.RequireGuest();
        var id = NewId("stdio");
        await vm.RunAsync(id, ["/bin/sh", "-c", "cat; echo to-stderr >&2; exit 3"]);

        var data = Encoding.UTF8.GetBytes("line one\nline two\n");
        Assert.Equal(data.Length, await vm.Agent.WriteStdinAsync(Sb, id, string.Empty, data, Ct));
        await vm.Agent.CloseStdinAsync(Sb, id, string.Empty, Ct);

        Assert.Equal("line one\nline two\n", await vm.ReadAllAsync(id, string.Empty));
        Assert.Equal("to-stderr\n", await vm.ReadAllAsync(id, string.Empty, stdout: false));
        Assert.Equal(3, await vm.Agent.WaitProcessAsync(Sb, id, string.Empty, Ct));
        await vm.Agent.RemoveContainerAsync(Sb, id, Ct);
    }

    [Fact]
    public async Task OnlineCPUMem_succeeds_for_the_guests_CPUs_and_gives_Katas_error_for_none()
    {
        vm.RequireGuest();
        await vm.Agent.OnlineCpuMemAsync(Sb, 1, cpuOnly: false, Ct);

        var none = await Agent.FailsAsync(() => vm.Agent.OnlineCpuMemAsync(Sb, 0, cpuOnly: true, Ct));
        Assert.Equal(StatusCode.Unknown, none.StatusCode);
        Assert.Equal("requested number of CPUs '0' must be greater than 0", none.AgentMessage());
    }

    [Fact]
    public async Task SetGuestDateTime_sets_the_clock_a_container_reads()
    {
        vm.RequireGuest();
        var id = NewId("clock");
        await vm.RunAsync(id, ["sleep", "300"]);
        try
        {
            var target = new DateTimeOffset(2031, 5, 17, 12, 0, 0, TimeSpan.Zero);
            await vm.Agent.SetGuestDateTimeAsync(Sb, target, Ct);
            var seen = long.Parse((await vm.ExecAsync(id, "date", "-u", "+%s")).Trim(), CultureInfo.InvariantCulture);
            Assert.InRange(seen - target.ToUnixTimeSeconds(), 0, 120);
        }
        finally
        {
            await vm.Agent.SetGuestDateTimeAsync(Sb, DateTimeOffset.UtcNow, Ct);
        }

        var now = long.Parse((await vm.ExecAsync(id, "date", "-u", "+%s")).Trim(), CultureInfo.InvariantCulture);
        Assert.InRange(now - DateTimeOffset.UtcNow.ToUnixTimeSeconds(), -120, 120);
        await vm.StopAsync(id);
    }

    [Fact]
    public async Task CopyFile_writes_a_host_file_into_the_guest_in_parts_with_its_mode()
    {
        vm.RequireGuest();
        var id = NewId("copy");
        await vm.RunAsync(id, ["sleep", "300"]);
        var host = Path.Join(Path.GetTempPath(), $"kwf-copy-{Guid.NewGuid():N}");
        var empty = host + ".empty";
        try
        {
            // Three parts: two of Kata's 1 MiB and the rest.
            var bytes = RandomNumberGenerator.GetBytes(KataAgent.CopyFileChunkSize * 2 + 12345);
            await File.WriteAllBytesAsync(host, bytes, Ct);
            File.SetUnixFileMode(host, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            await File.WriteAllBytesAsync(empty, [], Ct);
            var inContainer = $"/tmp/copied-{id}/data.bin";
            var guestPath = KataGuestLayout.GuestRootfs(id) + inContainer;

            await vm.Agent.CopyFileAsync(Sb, host, guestPath, Ct);
            await vm.Agent.CopyFileAsync(Sb, empty, guestPath + ".empty", Ct);

            var sum = (await vm.ExecAsync(id, "sha256sum", inContainer)).Split(' ')[0];
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), sum);
            Assert.Equal("640", (await vm.ExecAsync(id, "stat", "-c", "%a", inContainer)).Trim());
            Assert.Equal("0", (await vm.ExecAsync(id, "stat", "-c", "%s", inContainer + ".empty")).Trim());
            await vm.ExecAsync(id, "rm", "-r", $"/tmp/copied-{id}");
        }
        finally
        {
            File.Delete(host);
            File.Delete(empty);
        }

        await vm.StopAsync(id);
    }
}
