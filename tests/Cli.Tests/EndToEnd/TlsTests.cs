using System.Net;
using System.Net.Sockets;
using KataWorkflows.Cli.Tests.Harness;
using KataWorkflows.TestSupport;

namespace KataWorkflows.Cli.Tests.EndToEnd;

/// <summary>kwf over TCP with TLS and a client certificate, against the host's TLS listener.</summary>
public sealed class TlsTests
{
    [Fact]
    public async Task Kwf_with_the_ca_and_a_client_certificate_is_served_and_without_them_is_refused()
    {
        var dir = Directory.CreateTempSubdirectory("kwf-tls-").FullName;
        try
        {
            var pem = TestCertificates.Create(dir);
            var port = FreePort();
            await using var host = await HostProcess.StartAsync(dir, settings: new Dictionary<string, string>
            {
                ["KataWorkflows__Listen__Tcp__Address"] = "127.0.0.1",
                ["KataWorkflows__Listen__Tcp__Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["KataWorkflows__Listen__Tcp__Tls__CertificatePath"] = pem.ServerCertPath,
                ["KataWorkflows__Listen__Tcp__Tls__KeyPath"] = pem.ServerKeyPath,
                ["KataWorkflows__Listen__Tcp__Tls__ClientCaPath"] = pem.CaPath,
            });
            string[] address = ["--address", $"https://127.0.0.1:{port}"];

            var list = await KwfProcess.RunAsync(host.Socket, [.. address, "--ca-cert", pem.CaPath, "--cert", pem.ClientCertPath, "--key", pem.ClientKeyPath, "sandbox", "list"]);
            list.Expect(ExitCodes.Ok);
            Assert.Equal("no sandboxes\n", list.Out);
            var run = await KwfProcess.RunAsync(host.Socket, [.. address, "--ca-cert", pem.CaPath, "--cert", pem.ClientCertPath, "--key", pem.ClientKeyPath, "--json", "sandbox", "run", .. HostFixture.MockSandbox("sb-tls", "c1")]);
            Assert.Equal("completed", (string?)run.Expect(ExitCodes.Ok).Json["outcome"]);

            // No client certificate: the host refuses the handshake. A server the CA did not sign: kwf refuses it.
            var noCert = await KwfProcess.RunAsync(host.Socket, [.. address, "--ca-cert", pem.CaPath, "sandbox", "list"]);
            noCert.Expect(ExitCodes.Unavailable);
            Assert.Contains($"cannot reach the host at https://127.0.0.1:{port}/", noCert.Err, StringComparison.Ordinal);
            (await KwfProcess.RunAsync(host.Socket, [.. address, "--ca-cert", pem.OtherCaPath, "--cert", pem.ClientCertPath, "--key", pem.ClientKeyPath, "sandbox", "list"]))
                .Expect(ExitCodes.Unavailable);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
