using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KataWorkflows.Cli.Tests.Harness;

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
            var pem = Pem.Create(dir);
            var port = FreePort();
            await using var host = await HostProcess.StartAsync(dir, settings: new Dictionary<string, string>
            {
                ["KataWorkflows__Listen__Tcp__Address"] = "127.0.0.1",
                ["KataWorkflows__Listen__Tcp__Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["KataWorkflows__Listen__Tcp__Tls__CertificatePath"] = pem.ServerCert,
                ["KataWorkflows__Listen__Tcp__Tls__KeyPath"] = pem.ServerKey,
                ["KataWorkflows__Listen__Tcp__Tls__ClientCaPath"] = pem.Ca,
            });
            string[] address = ["--address", $"https://127.0.0.1:{port}"];

            var list = await KwfProcess.RunAsync(host.Socket, [.. address, "--ca-cert", pem.Ca, "--cert", pem.ClientCert, "--key", pem.ClientKey, "sandbox", "list"]);
            list.Expect(ExitCodes.Ok);
            Assert.Equal("no sandboxes\n", list.Out);
            var run = await KwfProcess.RunAsync(host.Socket, [.. address, "--ca-cert", pem.Ca, "--cert", pem.ClientCert, "--key", pem.ClientKey, "--json", "sandbox", "run", .. HostFixture.MockSandbox("sb-tls", "c1")]);
            Assert.Equal("completed", (string?)run.Expect(ExitCodes.Ok).Json["outcome"]);

            // No client certificate: the host refuses the handshake. A server the CA did not sign: kwf refuses it.
            var noCert = await KwfProcess.RunAsync(host.Socket, [.. address, "--ca-cert", pem.Ca, "sandbox", "list"]);
            noCert.Expect(ExitCodes.Unavailable);
            Assert.Contains($"cannot reach the host at https://127.0.0.1:{port}/", noCert.Err, StringComparison.Ordinal);
            (await KwfProcess.RunAsync(host.Socket, [.. address, "--ca-cert", pem.OtherCa, "--cert", pem.ClientCert, "--key", pem.ClientKey, "sandbox", "list"]))
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

    /// <summary>A CA, a server certificate for 127.0.0.1 and a client certificate it signed, and an unrelated CA; PEM files.</summary>
    private sealed record Pem(string Ca, string OtherCa, string ServerCert, string ServerKey, string ClientCert, string ClientKey)
    {
        public static Pem Create(string dir)
        {
            using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            using var ca = Authority("CN=kwf-cli-test-ca", caKey);
            using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            using var other = Authority("CN=kwf-cli-other-ca", otherKey);
            var pem = new Pem(
                Path.Combine(dir, "ca.pem"), Path.Combine(dir, "other-ca.pem"), Path.Combine(dir, "server.pem"), Path.Combine(dir, "server.key"),
                Path.Combine(dir, "client.pem"), Path.Combine(dir, "client.key"));
            File.WriteAllText(pem.Ca, ca.ExportCertificatePem());
            File.WriteAllText(pem.OtherCa, other.ExportCertificatePem());
            Leaf(ca, "CN=127.0.0.1", "1.3.6.1.5.5.7.3.1", [1, 2, 3], pem.ServerCert, pem.ServerKey, server: true);
            Leaf(ca, "CN=kwf-cli", "1.3.6.1.5.5.7.3.2", [4, 5, 6], pem.ClientCert, pem.ClientKey, server: false);
            return pem;
        }

        private static X509Certificate2 Authority(string name, ECDsa key)
        {
            var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            // The CA outlives its leaves: a leaf may not end after its issuer.
            return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(2));
        }

        private static void Leaf(X509Certificate2 issuer, string name, string usage, byte[] serial, string certPath, string keyPath, bool server)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
            if (server)
            {
                var san = new SubjectAlternativeNameBuilder();
                san.AddIpAddress(IPAddress.Loopback);
                san.AddDnsName("localhost");
                request.CertificateExtensions.Add(san.Build());
            }

            using var cert = request.Create(issuer, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), serial);
            File.WriteAllText(certPath, cert.ExportCertificatePem());
            File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        }
    }
}
