using System.IO.Compression;
using System.Security.Cryptography;

namespace KataWorkflows.Host.WebConsole;

/// <summary>
/// The console's files, embedded in the host's assembly at build time (its own pages and the npm libraries the build
/// installed), so the host serves every byte the page loads and needs no network. Each is kept gzipped as well.
/// </summary>
internal sealed class ConsoleAssets
{
    /// <summary>The resource name prefix the build gives the files.</summary>
    public const string ResourcePrefix = "webconsole/";

    private readonly Dictionary<string, Asset> _assets;

    private ConsoleAssets(Dictionary<string, Asset> assets) => _assets = assets;

    /// <summary>The file at a path under <c>/assets/</c> (e.g. <c>app.js</c>), or null.</summary>
    public Asset? Find(string name) => _assets.GetValueOrDefault(name);

    /// <summary>Reads every embedded file.</summary>
    /// <exception cref="InvalidOperationException">The build did not embed the console (its page is missing).</exception>
    public static ConsoleAssets Load()
    {
        var assembly = typeof(ConsoleAssets).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            using var zipped = new MemoryStream();
            using (var gzip = new GZipStream(zipped, CompressionLevel.SmallestSize, leaveOpen: true))
            {
                gzip.Write(bytes);
            }

            var name = resource[ResourcePrefix.Length..];
            var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 12)) + "\"";
            assets[name] = new Asset(name, ContentType(name), bytes, zipped.ToArray(), etag);
        }

        return assets.ContainsKey("index.html") && assets.ContainsKey("app.js")
            ? new ConsoleAssets(assets)
            : throw new InvalidOperationException("The web console's files are not embedded in the host (the build's WebConsole target did not run).");
    }

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };
}

/// <summary>One embedded file.</summary>
/// <param name="Name">Its path under <c>/assets/</c>.</param>
/// <param name="ContentType">Its media type.</param>
/// <param name="Bytes">Its content.</param>
/// <param name="Gzipped">Its content gzipped.</param>
/// <param name="ETag">A strong entity tag of its content.</param>
#pragma warning disable CA1819 // The bytes are written to responses as they are; a copy per request would be waste.
internal sealed record Asset(string Name, string ContentType, byte[] Bytes, byte[] Gzipped, string ETag);
#pragma warning restore CA1819
