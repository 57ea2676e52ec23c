using KataWorkflows.Host.Configuration;
using KataWorkflows.Host.Tests.Harness;
using Microsoft.Extensions.DependencyInjection;

namespace KataWorkflows.Host.Tests;

/// <summary>The configuration is validated before anything starts, and every error names its key.</summary>
public sealed class ConfigurationTests
{
    [Theory]
    [InlineData("KataWorkflows:Listen:Tcp:Port", "--KataWorkflows:Listen:Tcp:Port=70000", "--KataWorkflows:Listen:Tcp:AllowPlaintext=true")]
    [InlineData("KataWorkflows:Listen:Tcp:Port", "--KataWorkflows:Listen:Tcp:Port=abc")]
    [InlineData("KataWorkflows:Listen:Tcp:Address", "--KataWorkflows:Listen:Tcp:Port=5000", "--KataWorkflows:Listen:Tcp:Address=example.org", "--KataWorkflows:Listen:Tcp:AllowPlaintext=true")]
    [InlineData("KataWorkflows:Listen:Tcp:AllowPlaintext", "--KataWorkflows:Listen:Tcp:Port=5000", "--KataWorkflows:Listen:Tcp:Address=0.0.0.0", "--KataWorkflows:Listen:Tcp:AllowPlaintext=true")]
    [InlineData("KataWorkflows:Listen:Tcp:Tls:CertificatePath", "--KataWorkflows:Listen:Tcp:Port=5000")]
    [InlineData("KataWorkflows:Listen:Tcp:Tls:ClientCaPath", "--KataWorkflows:Listen:Tcp:Port=5000", "--KataWorkflows:Listen:Tcp:Tls:ClientCaPath=/nonexistent/ca.pem")]
    [InlineData("KataWorkflows:Listen:UnixSocket", "--KataWorkflows:Listen:UnixSocket=relative/kwf.sock")]
    [InlineData("KataWorkflows:Listen:Bogus", "--KataWorkflows:Listen:Bogus=1")]
    [InlineData("KataWorkflows:Store:Kind", "--KataWorkflows:Store:Kind=oracle")]
    [InlineData("KataWorkflows:Store:Sqlite:Synchronous", "--KataWorkflows:Store:Sqlite:Synchronous=sometimes")]
    [InlineData("KataWorkflows:Store:Sqlite:Path", "--KataWorkflows:Store:Sqlite:Path=store.db")]
    [InlineData("KataWorkflows:StateDirectory", "--KataWorkflows:StateDirectory=state")]
    [InlineData("KataWorkflows:RunRoot", "--KataWorkflows:RunRoot=")]
    [InlineData("KataWorkflows:StateDirectory", "--KataWorkflows:StateDirectory=/proc/kwf-cannot-exist/state")]
    [InlineData("KataWorkflows:MockDrivers:StateDirectory", "--KataWorkflows:MockDrivers:StateDirectory=mock")]
    [InlineData("KataWorkflows:MockDrivers:StateDirectory", "--KataWorkflows:MockDrivers:StateDirectory=/proc/kwf-cannot-exist/mock")]
    [InlineData("KataWorkflows:Worker:MaxConcurrentActivities", "--KataWorkflows:Worker:MaxConcurrentActivities=0")]
    [InlineData("KataWorkflows:Worker:MaxOrchestrationSessions", "--KataWorkflows:Worker:MaxOrchestrationSessions=-1")]
    [InlineData("KataWorkflows:Faults:Spec", "--KataWorkflows:Faults:Spec=sandbox.nothing:fail")]
    [InlineData("KataWorkflows:Limits:MaxRequestBytes", "--KataWorkflows:Limits:MaxRequestBytes=10")]
    [InlineData("KataWorkflows:Sandboxes:DefaultHypervisor", "--KataWorkflows:Sandboxes:DefaultHypervisor=firecracker")]
    [InlineData("KataWorkflows:Sandboxes:DefaultAgent", "--KataWorkflows:Sandboxes:DefaultAgent=")]
    [InlineData("KataWorkflows:Sandboxes:DefaultNetwork", "--KataWorkflows:Sandboxes:DefaultNetwork=macvtap")]
    [InlineData("KataWorkflows:Sandboxes:DefaultMemoryMiB", "--KataWorkflows:Sandboxes:DefaultMemoryMiB=1")]
    [InlineData("KataWorkflows:Sandboxes:GuestImageDirectory", "--KataWorkflows:Sandboxes:GuestImageDirectory=guest")]
    [InlineData("KataWorkflows:Sandboxes:GuestImageDirectory", "--KataWorkflows:Sandboxes:GuestImageDirectory=/nonexistent/kwf-guest")]
    [InlineData("KataWorkflows:Sandboxes:GuestImageDirectory", "--KataWorkflows:Sandboxes:GuestImageDirectory=/proc")]
    [InlineData("KataWorkflows:KataAgent:SharedDirectory", "--KataWorkflows:KataAgent:SharedDirectory=shared")]
    [InlineData("KataWorkflows:KataAgent:DialTimeout", "--KataWorkflows:KataAgent:DialTimeout=00:00:00")]
    [InlineData("KataWorkflows:KataAgent:Bogus", "--KataWorkflows:KataAgent:Bogus=1")]
    [InlineData("KataWorkflows:Qemu:Accelerator", "--KataWorkflows:Qemu:Accelerator=warp")]
    [InlineData("KataWorkflows:Qemu:MaxMemoryMiB", "--KataWorkflows:Qemu:MaxMemoryMiB=1")]
    [InlineData("KataWorkflows:Qemu:QemuPath", "--KataWorkflows:Qemu:QemuPath=bin/qemu")]
    [InlineData("KataWorkflows:Network:AddressPool", "--KataWorkflows:Network:AddressPool=10.0.0.1/8")]
    [InlineData("KataWorkflows:Network:SubnetPrefixLength", "--KataWorkflows:Network:SubnetPrefixLength=31")]
    [InlineData("KataWorkflows:Logging:File", "--KataWorkflows:Logging:File=logs/kwf.json")]
    [InlineData("KataWorkflows:Logging:MinimumLevel", "--KataWorkflows:Logging:MinimumLevel=Loud")]
    [InlineData("KataWorkflows:Telemetry:OtlpEndpoint", "--KataWorkflows:Telemetry:OtlpEndpoint=not a uri")]
    public void A_bad_value_fails_the_build_naming_its_key(string key, params string[] arguments)
    {
        using var dir = TempDir.Create();

        var ex = Assert.Throws<HostConfigurationException>(() => KataWorkflowsHost.Build([.. TestHost.Arguments(dir, arguments)]));

        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.Path, "state", "store.db")));
    }

    [Fact]
    public async Task A_config_that_leaves_its_drivers_and_guest_image_out_gets_the_hosts_defaults()
    {
        using var image = TempDir.Create();
        File.WriteAllText(Path.Combine(image.Path, "vmlinuz"), "kernel");
        File.WriteAllText(Path.Combine(image.Path, "initrd.gz"), "initrd");
        await using var host = await TestHost.StartAsync(
            "--KataWorkflows:Sandboxes:DefaultHypervisor=mock", "--KataWorkflows:Sandboxes:DefaultAgent=noop", "--KataWorkflows:Sandboxes:DefaultNetwork=none",
            $"--KataWorkflows:Sandboxes:GuestImageDirectory={image.Path}", "--KataWorkflows:Sandboxes:DefaultMemoryMiB=256");

        // Nothing but the id and a container: every driver, the kernel, the initrd and the memory come from the host.
        await host.Sandboxes.CreateSandboxAsync(Requests.Call("sb1", new { config = new { id = "sb1", containers = new[] { Requests.Container("c1") } } }), cancellationToken: host.Token);
        // Empty strings, as kwf sends what it was not given, are left to the host too.
        await host.Sandboxes.CreateSandboxAsync(
            Requests.Call("sb2", new { config = new { id = "sb2", hypervisorType = "", agentType = "", networkConfig = new { interworkingModel = "" } } }), cancellationToken: host.Token);

        foreach (var id in new[] { "sb1", "sb2" })
        {
            var record = await host.Services.GetRequiredService<Orchestrations.Client.SandboxClient>().GetRecordAsync(id, host.Token);
            Assert.NotNull(record);
            Assert.Equal(("mock", "noop", "none"), (record.Config.HypervisorType, record.Config.AgentType, record.Config.NetworkConfig.InterworkingModel));
            Assert.Equal(Path.Combine(image.Path, "vmlinuz"), record.Config.HypervisorConfig.KernelPath);
            Assert.Equal(Path.Combine(image.Path, "initrd.gz"), record.Config.HypervisorConfig.InitrdPath);
            Assert.Null(record.Config.HypervisorConfig.ImagePath);
            Assert.Equal(256, record.Config.HypervisorConfig.MemorySizeMiB);
        }
    }

    [Fact]
    public async Task What_a_config_gives_is_never_replaced_by_a_default()
    {
        using var image = TempDir.Create();
        File.WriteAllText(Path.Combine(image.Path, "vmlinuz"), "kernel");
        File.WriteAllText(Path.Combine(image.Path, "initrd.gz"), "initrd");
        await using var host = await TestHost.StartAsync(
            "--KataWorkflows:Sandboxes:DefaultHypervisor=qemu", "--KataWorkflows:Sandboxes:DefaultAgent=kata",
            $"--KataWorkflows:Sandboxes:GuestImageDirectory={image.Path}", "--KataWorkflows:Sandboxes:DefaultMemoryMiB=256");

        await host.Sandboxes.CreateSandboxAsync(Requests.Create("sb1", "c1"), cancellationToken: host.Token);

        var record = await host.Services.GetRequiredService<Orchestrations.Client.SandboxClient>().GetRecordAsync("sb1", host.Token);
        Assert.NotNull(record);
        Assert.Equal(("mock", "noop", "none"), (record.Config.HypervisorType, record.Config.AgentType, record.Config.NetworkConfig.InterworkingModel));
        Assert.Equal(("/usr/share/kata/vmlinuz", "/usr/share/kata/kata.img", null), (record.Config.HypervisorConfig.KernelPath, record.Config.HypervisorConfig.ImagePath, record.Config.HypervisorConfig.InitrdPath));
        Assert.Equal(256, record.Config.HypervisorConfig.MemorySizeMiB);
    }

    [Fact]
    public async Task The_memory_store_and_plaintext_tcp_on_loopback_are_accepted()
    {
        await using var host = await TestHost.StartAsync(
            "--KataWorkflows:Store:Kind=memory", "--KataWorkflows:Listen:Tcp:Port=0", "--KataWorkflows:Listen:Tcp:AllowPlaintext=true");
        var tcp = host.Addresses.Single(a => a.StartsWith("http://127.0.0.1:", StringComparison.Ordinal));

        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(tcp);
        var created = await new Protocol.V1.Sandboxes.SandboxesClient(channel).CreateSandboxAsync(Requests.Create("sb1"), cancellationToken: host.Token);

        Assert.Equal(("Completed", "Ready"), (created.Status, Requests.SandboxState(created)));
        Assert.False(File.Exists(Path.Combine(host.Dir.Path, "state", "store.db")));
    }

    [Fact]
    public async Task The_sqlite_store_lives_in_the_state_directory_and_logs_go_to_a_compact_json_file()
    {
        using var logs = TempDir.Create();
        var logFile = Path.Combine(logs.Path, "kwf-.json");
        await using (var host = await TestHost.StartAsync($"--KataWorkflows:Logging:File={logFile}", "--KataWorkflows:Logging:MinimumLevel=Information"))
        {
            await host.Sandboxes.CreateSandboxAsync(Requests.Create("sb1"), cancellationToken: host.Token);
            Assert.True(File.Exists(Path.Combine(host.Dir.Path, "state", "store.db")));
        }

        var written = Assert.Single(Directory.GetFiles(logs.Path, "kwf-*.json"));
        var lines = await File.ReadAllLinesAsync(written, TestContext.Current.CancellationToken);
        Assert.NotEmpty(lines);
        Assert.All(lines, line =>
        {
            using var json = System.Text.Json.JsonDocument.Parse(line);
            Assert.True(json.RootElement.TryGetProperty("@t", out _));
        });
    }
}
