using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using KataWorkflows.Host.Configuration;
using KataWorkflows.Host.Tests.Harness;
using KataWorkflows.TestSupport;

namespace KataWorkflows.Host.Tests;

/// <summary>The TCP listener: TLS with client certificates required and checked against the configured CA.</summary>
public sealed class TlsTests
{
    [Fact]
    public async Task Clients_without_a_certificate_or_with_an_untrusted_one_are_refused_and_a_valid_one_is_served()
    {
        using var dir = TempDir.Create();
        var certs = TestCertificates.Create(dir.Path);
        await using var host = await TestHost.StartAsync(
            "--KataWorkflows:Listen:Tcp:Port=0",
            "--KataWorkflows:Listen:Tcp:Address=127.0.0.1",
            $"--KataWorkflows:Listen:Tcp:Tls:CertificatePath={certs.ServerCertPath}",
            $"--KataWorkflows:Listen:Tcp:Tls:KeyPath={certs.ServerKeyPath}",
            $"--KataWorkflows:Listen:Tcp:Tls:ClientCaPath={certs.CaPath}");
        var address = host.Addresses.Single(a => a.StartsWith("https://127.0.0.1:", StringComparison.Ordinal));

        var none = await Assert.ThrowsAsync<RpcException>(() => CheckAsync(address, certs, null, host.Token));
        var untrusted = await Assert.ThrowsAsync<RpcException>(() => CheckAsync(address, certs, certs.Untrusted, host.Token));
        var served = await CheckAsync(address, certs, certs.Client, host.Token);

        Assert.NotEqual(StatusCode.OK, none.StatusCode);
        Assert.NotEqual(StatusCode.OK, untrusted.StatusCode);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, served.Status);
        var created = await SandboxesOver(address, certs, certs.Client).CreateSandboxAsync(Requests.Create("sb1"), cancellationToken: host.Token);
        Assert.Equal(("Completed", "Ready"), (created.Status, Requests.SandboxState(created)));
    }

    [Fact]
    public void An_unreadable_certificate_fails_the_build_naming_the_key()
    {
        using var dir = TempDir.Create();
        var certs = TestCertificates.Create(dir.Path);
        var garbage = Path.Combine(dir.Path, "garbage.pem");
        File.WriteAllText(garbage, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");

        var badServer = Assert.Throws<HostConfigurationException>(() => KataWorkflowsHost.Build([.. TestHost.Arguments(dir,
            "--KataWorkflows:Listen:Tcp:Port=0",
            $"--KataWorkflows:Listen:Tcp:Tls:CertificatePath={garbage}",
            $"--KataWorkflows:Listen:Tcp:Tls:KeyPath={certs.ServerKeyPath}",
            $"--KataWorkflows:Listen:Tcp:Tls:ClientCaPath={certs.CaPath}")]));
        var badCa = Assert.Throws<HostConfigurationException>(() => KataWorkflowsHost.Build([.. TestHost.Arguments(dir,
            "--KataWorkflows:Listen:Tcp:Port=0",
            $"--KataWorkflows:Listen:Tcp:Tls:CertificatePath={certs.ServerCertPath}",
            $"--KataWorkflows:Listen:Tcp:Tls:KeyPath={certs.ServerKeyPath}",
            $"--KataWorkflows:Listen:Tcp:Tls:ClientCaPath={certs.ServerKeyPath}")]));

        Assert.Contains("KataWorkflows:Listen:Tcp:Tls:CertificatePath", badServer.Message, StringComparison.Ordinal);
        Assert.Contains("KataWorkflows:Listen:Tcp:Tls:ClientCaPath", badCa.Message, StringComparison.Ordinal);
    }

    private static async Task<HealthCheckResponse> CheckAsync(string address, TestCertificates certs, X509Certificate2? client, CancellationToken cancellationToken)
    {
        using var channel = Channel(address, certs, client);
        return await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), cancellationToken: cancellationToken);
    }

    private static Protocol.V1.Sandboxes.SandboxesClient SandboxesOver(string address, TestCertificates certs, X509Certificate2 client) =>
        new(Channel(address, certs, client));

    private static GrpcChannel Channel(string address, TestCertificates certs, X509Certificate2? client)
    {
        var ssl = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is X509Certificate2 c && certs.IsTrustedServer(c),
        };
        if (client is not null)
        {
            ssl.ClientCertificates = [client];
        }

        return GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { SslOptions = ssl } });
    }
}
