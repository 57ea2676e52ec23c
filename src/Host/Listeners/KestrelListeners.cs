using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KataWorkflows.Host.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace KataWorkflows.Host.Listeners;

/// <summary>Binds Kestrel: the Unix socket, and TCP with TLS and required client certificates (or loopback plaintext).</summary>
internal static class KestrelListeners
{
    private const string TlsKey = KataWorkflowsOptions.SectionName + ":Listen:Tcp:Tls";

    /// <summary>The OID of the client-authentication extended key usage.</summary>
    private const string ClientAuthenticationOid = "1.3.6.1.5.5.7.3.2";

    /// <summary>Configures the listeners and the request limits.</summary>
    public static void Configure(KestrelServerOptions kestrel, KataWorkflowsOptions options, UnixSocketListener unixSocket, TlsMaterial? tls)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(unixSocket);

        // gRPC enforces MaxRequestBytes per message; this bounds any other request body as well.
        kestrel.Limits.MaxRequestBodySize = options.Limits.MaxRequestBytes + 64L * 1024;
        kestrel.AddServerHeader = false;

        if (unixSocket.Path is { } path)
        {
            kestrel.ListenUnixSocket(path, listen => listen.Protocols = HttpProtocols.Http2);
        }

        var tcp = options.Listen.Tcp;
        if (tcp.Port is not { } port)
        {
            return;
        }

        var address = IPAddress.Parse(tcp.Address);
        if (tcp.AllowPlaintext)
        {
            kestrel.Listen(address, port, listen => listen.Protocols = HttpProtocols.Http2);
            return;
        }

        var material = tls ?? throw new InvalidOperationException("The TCP listener needs TLS material; LoadTls was not called.");
        kestrel.Listen(address, port, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            UseClientCertificateTls(listen, material);
        });
    }

    /// <summary>True when a client certificate chains to one of the configured CAs and allows client authentication.</summary>
    public static bool IsTrustedClient(X509Certificate2 certificate, X509Certificate2Collection clientCas)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(clientCas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ClientAuthenticationOid));
        return chain.Build(certificate);
    }

    /// <summary>Reads the TLS certificate, key and client CA of the TCP listener; null when it needs none.</summary>
    /// <exception cref="HostConfigurationException">A certificate or key cannot be read; the message names the key.</exception>
    public static TlsMaterial? LoadTls(TcpSection tcp)
    {
        ArgumentNullException.ThrowIfNull(tcp);
        return tcp.Port is null || tcp.AllowPlaintext ? null : LoadTls(tcp.Tls, TlsKey);
    }

    /// <summary>Reads a TLS section (server certificate, key, client CAs); <paramref name="key"/> names it in errors.</summary>
    /// <exception cref="HostConfigurationException">A certificate or key cannot be read; the message names the key.</exception>
    public static TlsMaterial LoadTls(TlsSection tls, string key)
    {
        ArgumentNullException.ThrowIfNull(tls);
        return new TlsMaterial(LoadServerCertificate(tls, key), LoadCas(tls.ClientCaPath!, key));
    }

    /// <summary>
    /// Requires a client certificate on a listener and accepts only one that chains to the configured CAs and allows
    /// client authentication: the one rule of the gRPC TCP listener and the web console.
    /// </summary>
    public static void UseClientCertificateTls(ListenOptions listen, TlsMaterial tls)
    {
        ArgumentNullException.ThrowIfNull(listen);
        ArgumentNullException.ThrowIfNull(tls);
        listen.UseHttps(https =>
        {
            https.ServerCertificate = tls.Server;
            https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
            https.CheckCertificateRevocation = false;
            https.ClientCertificateValidation = (certificate, _, _) => IsTrustedClient(certificate, tls.ClientCas);
        });
    }

    private static X509Certificate2 LoadServerCertificate(TlsSection tls, string key)
    {
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(tls.CertificatePath!, tls.KeyPath);

            // Round-trip through PKCS#12 so the private key is usable by SslStream on every platform.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or ArgumentException)
        {
            throw new HostConfigurationException(
                [$"{key}:CertificatePath/KeyPath: cannot load '{tls.CertificatePath}' with key '{tls.KeyPath}': {ex.Message}"], ex);
        }
    }

    private static X509Certificate2Collection LoadCas(string path, string key)
    {
        var cas = new X509Certificate2Collection();
        try
        {
            cas.ImportFromPemFile(path);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException)
        {
            throw new HostConfigurationException([$"{key}:ClientCaPath: cannot load '{path}': {ex.Message}"], ex);
        }

        return cas.Count > 0 ? cas : throw new HostConfigurationException([$"{key}:ClientCaPath: '{path}' holds no certificate"]);
    }
}

/// <summary>The TCP listener's server certificate and the CAs its clients' certificates must chain to.</summary>
/// <param name="Server">The server certificate with its key.</param>
/// <param name="ClientCas">The client CAs.</param>
internal sealed record TlsMaterial(X509Certificate2 Server, X509Certificate2Collection ClientCas);
