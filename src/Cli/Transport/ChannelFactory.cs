using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;

namespace KataWorkflows.Cli.Transport;

/// <summary>Opens the gRPC channel to the host: HTTP/2 over the Unix socket, or over TCP with TLS.</summary>
public static class ChannelFactory
{
    /// <summary>Creates a channel for the settings; nothing is connected until the first call.</summary>
    /// <exception cref="CliException">A certificate file cannot be read.</exception>
    public static GrpcChannel Create(ConnectionSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        Uri address;
        if (settings.Address is null)
        {
            var socketPath = settings.Socket;
            handler.ConnectCallback = async (_, cancellationToken) =>
            {
                if (!File.Exists(socketPath))
                {
                    throw new IOException($"no socket at {socketPath} (is the host running? see --socket or KWF_SOCKET)");
                }

                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };

            // The authority is never resolved: the connect callback above opens the socket.
            address = new Uri("http://kwf.sock");
        }
        else
        {
            address = settings.Address;
            if (address.Scheme == "https")
            {
                handler.SslOptions = TlsOptions(settings);
            }
        }

        return GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = 64 * 1024 * 1024,
        });
    }

    private static SslClientAuthenticationOptions TlsOptions(ConnectionSettings settings)
    {
        var options = new SslClientAuthenticationOptions();
        try
        {
            if (settings.Certificate is not null && settings.Key is not null)
            {
                var pem = X509Certificate2.CreateFromPemFile(settings.Certificate, settings.Key);

                // An ephemeral PEM key cannot be used by SslStream on every platform; a PKCS#12 round trip makes it usable.
                var certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
                options.ClientCertificates = [certificate];
            }

            if (settings.CaCertificate is not null)
            {
                var roots = new X509Certificate2Collection();
                roots.ImportFromPemFile(settings.CaCertificate);
                if (roots.Count == 0)
                {
                    throw CliException.Usage($"--ca-cert: '{settings.CaCertificate}' holds no PEM certificate");
                }

                options.CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    RevocationMode = X509RevocationMode.NoCheck,
                };
                options.CertificateChainPolicy.CustomTrustStore.AddRange(roots);
            }
        }
        catch (System.Security.Cryptography.CryptographicException ex)
        {
            throw CliException.Usage($"cannot read the TLS certificate or key: {ex.Message}");
        }

        return options;
    }
}
