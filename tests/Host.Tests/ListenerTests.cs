using System.Net.Sockets;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using KataWorkflows.Host.Configuration;
using KataWorkflows.Host.Tests.Harness;

namespace KataWorkflows.Host.Tests;

/// <summary>The Unix socket listener, health and reflection.</summary>
public sealed class ListenerTests
{
    [Fact]
    public async Task The_socket_is_0660_in_a_directory_the_host_creates_0750_and_is_removed_at_stop()
    {
        string socket;
        await using (var host = await TestHost.StartAsync())
        {
            socket = host.SocketPath;
            Assert.Equal(
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite,
                File.GetUnixFileMode(socket));
            Assert.Equal(
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute,
                File.GetUnixFileMode(Path.GetDirectoryName(socket)!));
            await SandboxesErrorTests.AssertServingAsync(host);
        }

        Assert.False(File.Exists(socket));
    }

    [Fact]
    public async Task An_existing_socket_directory_keeps_its_mode()
    {
        using var dir = TempDir.Create();
        var directory = Path.Combine(dir.Path, "sock");
        const UnixFileMode userOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(directory, userOnly);

        await using var app = KataWorkflowsHost.Build([.. TestHost.Arguments(dir)]);

        Assert.Equal(userOnly, File.GetUnixFileMode(directory));
    }

    [Fact]
    public async Task A_stale_socket_is_replaced_and_a_live_one_refuses_the_start()
    {
        using var dir = TempDir.Create();
        var path = Path.Combine(dir.Path, "sock", "kwf.sock");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            // A socket file nobody listens on, as a killed host leaves behind (.NET unlinks the path it bound on dispose,
            // so the file is moved away from that path first).
            stale.Bind(new UnixDomainSocketEndPoint(path + ".tmp"));
            File.Move(path + ".tmp", path);
        }

        Assert.True(File.Exists(path));
        await using var app = KataWorkflowsHost.Build([.. TestHost.Arguments(dir)]);
        await app.StartAsync(TestContext.Current.CancellationToken);
        using (var channel = TestHost.UnixChannel(path))
        {
            var health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        }

        using var second = TempDir.Create();
        var ex = Assert.Throws<HostConfigurationException>(() => KataWorkflowsHost.Build(
            [.. TestHost.Arguments(second), $"--KataWorkflows:Listen:UnixSocket={path}"]));
        Assert.Contains("KataWorkflows:Listen:UnixSocket", ex.Message, StringComparison.Ordinal);
        Assert.Contains("already serving", ex.Message, StringComparison.Ordinal);
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public void A_regular_file_at_the_socket_path_refuses_the_start()
    {
        using var dir = TempDir.Create();
        var path = Path.Combine(dir.Path, "sock", "kwf.sock");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "not a socket");

        var ex = Assert.Throws<HostConfigurationException>(() => KataWorkflowsHost.Build([.. TestHost.Arguments(dir)]));

        Assert.Contains("KataWorkflows:Listen:UnixSocket", ex.Message, StringComparison.Ordinal);
        Assert.Equal("not a socket", File.ReadAllText(path));
    }

    [Fact]
    public async Task Health_is_serving_and_reflection_lists_every_service()
    {
        await using var host = await TestHost.StartAsync();

        var health = await new Health.HealthClient(host.Channel).CheckAsync(new HealthCheckRequest(), cancellationToken: host.Token);
        using var reflection = new ServerReflection.ServerReflectionClient(host.Channel).ServerReflectionInfo(cancellationToken: host.Token);
        await reflection.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = string.Empty }, host.Token);
        await reflection.RequestStream.CompleteAsync();
        Assert.True(await reflection.ResponseStream.MoveNext(host.Token));
        var services = reflection.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        Assert.Contains("kataworkflows.v1.Sandboxes", services);
        Assert.Contains("TaskHubSidecarService", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }
}
