using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KataWorkflows.TestSupport;

/// <summary>
/// A CA with a server certificate (127.0.0.1 and localhost) and a client certificate it signed, and another CA with a
/// client certificate of its own; the certificates and keys a host or kwf reads are PEM files in a directory.
/// </summary>
public sealed class TestCertificates
{
    private TestCertificates(string directory)
    {
        Directory = directory;
    }

    /// <summary>Where the PEM files are.</summary>
    public string Directory { get; }

    /// <summary>The CA certificate PEM.</summary>
    public string CaPath => Path.Combine(Directory, "ca.pem");

    /// <summary>The server certificate PEM.</summary>
    public string ServerCertPath => Path.Combine(Directory, "server.pem");

    /// <summary>The server key PEM.</summary>
    public string ServerKeyPath => Path.Combine(Directory, "server.key");

    /// <summary>The certificate PEM of the other CA (which signed neither the server's nor the client's certificate).</summary>
    public string OtherCaPath => Path.Combine(Directory, "other-ca.pem");

    /// <summary>The PEM of <see cref="Client"/>'s certificate.</summary>
    public string ClientCertPath => Path.Combine(Directory, "client.pem");

    /// <summary>The PEM of <see cref="Client"/>'s key.</summary>
    public string ClientKeyPath => Path.Combine(Directory, "client.key");

    /// <summary>The CA.</summary>
    public X509Certificate2 Ca { get; private set; } = null!;

    /// <summary>A client certificate the CA signed.</summary>
    public X509Certificate2 Client { get; private set; } = null!;

    /// <summary>A client certificate another CA signed.</summary>
    public X509Certificate2 Untrusted { get; private set; } = null!;

    /// <summary>Creates the certificates and writes the PEM files.</summary>
    public static TestCertificates Create(string directory)
    {
        var certs = new TestCertificates(directory);

        // One clock reading for every validity window: a leaf may not outlive its issuer, and two readings a tick
        // apart once made the client certificate end a second after its CA.
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-5);
        var caNotAfter = notBefore.AddDays(2);
        var leafNotAfter = notBefore.AddDays(1);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        certs.Ca = CreateCa("CN=kwf-test-ca", caKey, notBefore, caNotAfter);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var otherCa = CreateCa("CN=kwf-other-ca", otherKey, notBefore, caNotAfter);

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=localhost", serverKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        serverRequest.CertificateExtensions.Add(san.Build());
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var server = serverRequest.Create(certs.Ca, notBefore, leafNotAfter, [1, 2, 3, 4]);
        File.WriteAllText(certs.CaPath, certs.Ca.ExportCertificatePem());
        File.WriteAllText(certs.ServerCertPath, server.ExportCertificatePem());
        File.WriteAllText(certs.ServerKeyPath, serverKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certs.OtherCaPath, otherCa.ExportCertificatePem());

        certs.Client = CreateClient("CN=kwf-client", certs.Ca, [5, 6, 7, 8], notBefore, leafNotAfter, certs.ClientCertPath, certs.ClientKeyPath);
        certs.Untrusted = CreateClient("CN=kwf-intruder", otherCa, [9, 10, 11, 12], notBefore, leafNotAfter, certPath: null, keyPath: null);
        return certs;
    }

    /// <summary>True when a server certificate chains to the test CA.</summary>
    public bool IsTrustedServer(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    private static X509Certificate2 CreateCa(string name, ECDsa key, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(notBefore, notAfter);
    }

    private static X509Certificate2 CreateClient(
        string name, X509Certificate2 issuer, byte[] serial, DateTimeOffset notBefore, DateTimeOffset notAfter, string? certPath, string? keyPath)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var cert = request.Create(issuer, notBefore, notAfter, serial);
        if (certPath is not null && keyPath is not null)
        {
            File.WriteAllText(certPath, cert.ExportCertificatePem());
            File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        }

        using var withKey = cert.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }
}
