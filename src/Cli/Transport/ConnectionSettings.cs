namespace KataWorkflows.Cli.Transport;

/// <summary>
/// Where the host is and how to reach it: a Unix socket (the default), or an <c>https://host:port</c> address with a
/// CA certificate and a client certificate and key (the host requires client certificates on TCP).
/// </summary>
public sealed record ConnectionSettings
{
    /// <summary>The socket the host listens on by default.</summary>
    public const string DefaultSocket = "/run/kata-workflows/kwf.sock";

    /// <summary>The Unix socket path; used when <see cref="Address"/> is null.</summary>
    public string Socket { get; init; } = DefaultSocket;

    /// <summary>The TCP address (<c>https://host:port</c>, or <c>http://</c> for a plaintext loopback listener).</summary>
    public Uri? Address { get; init; }

    /// <summary>PEM file of the CA that signed the host's certificate; the system store is used when null.</summary>
    public string? CaCertificate { get; init; }

    /// <summary>PEM file of the client certificate.</summary>
    public string? Certificate { get; init; }

    /// <summary>PEM file of the client certificate's private key.</summary>
    public string? Key { get; init; }

    /// <summary>Where the CLI connects, for messages.</summary>
    public string Describe() => Address is null ? $"unix:{Socket}" : Address.ToString();

    /// <summary>Checks the combination of options.</summary>
    /// <exception cref="CliException">A usage error naming the bad option.</exception>
    public ConnectionSettings Validated()
    {
        if (Address is null)
        {
            if (string.IsNullOrWhiteSpace(Socket))
            {
                throw CliException.Usage("--socket must not be empty");
            }

            if (CaCertificate is not null || Certificate is not null || Key is not null)
            {
                throw CliException.Usage("--ca-cert, --cert and --key apply to --address (TCP with TLS), not to the Unix socket");
            }

            return this;
        }

        if (Address.Scheme is not ("https" or "http") || !Address.IsAbsoluteUri)
        {
            throw CliException.Usage($"--address must be https://host:port, got '{Address}'");
        }

        if ((Certificate is null) != (Key is null))
        {
            throw CliException.Usage("--cert and --key go together: give both or neither");
        }

        if (Address.Scheme == "http" && (Certificate is not null || CaCertificate is not null))
        {
            throw CliException.Usage("--ca-cert, --cert and --key need an https:// --address");
        }

        foreach (var (option, path) in new[] { ("--ca-cert", CaCertificate), ("--cert", Certificate), ("--key", Key) })
        {
            if (path is not null && !File.Exists(path))
            {
                throw CliException.Usage($"{option}: no such file '{path}'");
            }
        }

        return this;
    }
}
