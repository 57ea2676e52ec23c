using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace KataWorkflows.Host.WebConsole;

/// <summary>
/// The console's requests: the page (one HTML file; the script draws the runs, run and sandboxes views), its assets,
/// and the JSON it reads. Only GET and HEAD are answered; nothing here writes to the store.
/// </summary>
internal sealed partial class ConsoleEndpoints(ConsoleReader reader, ConsoleReplay replay, ConsoleAssets assets, ILogger<ConsoleEndpoints> logger)
{
    /// <summary>The page's content security policy: every script and style from this host, no frames, no other origin.</summary>
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    private static readonly HashSet<string> Pages = new(StringComparer.Ordinal) { "/", "/runs", "/run", "/sandboxes" };

    /// <summary>Answers one request.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        var response = context.Response;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            response.Headers.Allow = "GET, HEAD";
            await ErrorAsync(context, StatusCodes.Status405MethodNotAllowed, $"the web console is read-only: {request.Method} is not allowed");
            return;
        }

        var path = request.Path.Value ?? "/";
        var ct = context.RequestAborted;
        try
        {
            if (Pages.Contains(path))
            {
                response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
                response.Headers["X-Frame-Options"] = "DENY";
                await AssetAsync(context, "index.html");
                return;
            }

            if (path.StartsWith("/assets/", StringComparison.Ordinal))
            {
                await AssetAsync(context, path["/assets/".Length..]);
                return;
            }

            response.Headers.CacheControl = "no-store";
            switch (path)
            {
                case "/api/runs":
                    await JsonAsync(context, await reader.RunsAsync(ParseFilter(request.Query), ct));
                    return;
                case "/api/run":
                    var run = await reader.RunAsync(RequireId(request.Query), ct);
                    await (run is null ? NoRunAsync(context) : JsonAsync(context, run));
                    return;
                case "/api/history":
                    var history = await reader.HistoryAsync(RequireId(request.Query), ct);
                    await (history is null ? NoRunAsync(context) : JsonAsync(context, new { events = history }));
                    return;
                case "/api/export":
                    await ExportAsync(context, RequireId(request.Query), ct);
                    return;
                case "/api/replay":
                    var document = await reader.ExportAsync(RequireId(request.Query), ct);
                    await (document is null ? NoRunAsync(context) : JsonAsync(context, replay.Verdict(document)));
                    return;
                case "/api/sandboxes":
                    await JsonAsync(context, new { sandboxes = await reader.SandboxesAsync(ct) });
                    return;
                default:
                    await ErrorAsync(context, StatusCodes.Status404NotFound, $"no such page: {path}");
                    return;
            }
        }
        catch (BadRequestException ex)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, ex.Message);
        }
        catch (ArgumentException ex)
        {
            // The store's query checks (a token from elsewhere, an inverted time range) name what is wrong.
            await ErrorAsync(context, StatusCodes.Status400BadRequest, ex.Message);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The browser went away.
        }
        catch (StoreUnavailableException ex)
        {
            LogStoreUnavailable(logger, path, ex);
            await ErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "the store is unavailable: " + ex.Message);
        }
    }

    private async Task ExportAsync(HttpContext context, string instanceId, CancellationToken ct)
    {
        var document = await reader.ExportAsync(instanceId, ct);
        if (document is null)
        {
            await NoRunAsync(context);
            return;
        }

        var body = Encoding.UTF8.GetBytes(document.ToJson());
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"{FileName(instanceId)}.json\"";
        context.Response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await context.Response.Body.WriteAsync(body, ct);
        }
    }

    private async Task AssetAsync(HttpContext context, string name)
    {
        if (assets.Find(name) is not { } asset)
        {
            await ErrorAsync(context, StatusCodes.Status404NotFound, $"no such asset: {name}");
            return;
        }

        var response = context.Response;
        response.Headers.ETag = asset.ETag;
        response.Headers.CacheControl = "no-cache";
        response.Headers.Vary = "Accept-Encoding";
        if (context.Request.Headers.IfNoneMatch == asset.ETag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        var gzip = context.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase);
        var bytes = gzip ? asset.Gzipped : asset.Bytes;
        response.ContentType = asset.ContentType;
        if (gzip)
        {
            response.Headers.ContentEncoding = "gzip";
        }

        response.ContentLength = bytes.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(bytes, context.RequestAborted);
        }
    }

    private static async Task JsonAsync<T>(HttpContext context, T value)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(value, Json);
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        }
    }

    private static Task NoRunAsync(HttpContext context) =>
        ErrorAsync(context, StatusCodes.Status404NotFound, $"no run '{context.Request.Query["id"]}'");

    private static Task ErrorAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.Headers.CacheControl = "no-store";
        return JsonAsync(context, new { error = message });
    }

    /// <summary>Reads the runs filter from the query string; every error names its parameter.</summary>
    internal static RunFilter ParseFilter(IQueryCollection query)
    {
        var statuses = new List<OrchestrationRuntimeStatus>();
        foreach (var text in Values(query["status"]))
        {
            statuses.Add(Enum.TryParse<OrchestrationRuntimeStatus>(text, ignoreCase: true, out var status) && Enum.IsDefined(status) && !int.TryParse(text, CultureInfo.InvariantCulture, out _)
                ? status
                : throw new BadRequestException($"status: unknown status '{text}' (expected one of {string.Join(", ", Enum.GetNames<OrchestrationRuntimeStatus>())})"));
        }

        var size = 50;
        if (Single(query, "size") is { } sizeText
            && (!int.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size is < 1 or > 500))
        {
            throw new BadRequestException($"size: must be a whole number from 1 to 500, got '{sizeText}'");
        }

        return new RunFilter
        {
            Statuses = statuses.Count == 0 ? null : statuses,
            Name = Single(query, "name"),
            Sandbox = Single(query, "sandbox"),
            Prefix = Single(query, "prefix"),
            From = Time(query, "from"),
            To = Time(query, "to"),
            PageSize = size,
            Page = Single(query, "page"),
        };
    }

    private static IEnumerable<string> Values(StringValues values) =>
        values.SelectMany(v => (v ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    private static string? Single(IQueryCollection query, string key)
    {
        var values = query[key];
        if (values.Count > 1)
        {
            throw new BadRequestException($"{key}: given {values.Count} times; give it once");
        }

        return values.Count == 1 && values[0] is { Length: > 0 } value ? value.Trim() : null;
    }

    private static DateTime? Time(IQueryCollection query, string key) => Single(query, key) is not { } text
        ? null
        : DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time)
            ? DateTime.SpecifyKind(time, DateTimeKind.Utc)
            : throw new BadRequestException($"{key}: must be a time like 2026-11-23T17:00:00Z, got '{text}'");

    private static string RequireId(IQueryCollection query)
    {
        var id = Single(query, "id") ?? throw new BadRequestException("id: the run's instance id is required (?id=...)");
        try
        {
            InstanceIds.Validate(id, "id");
        }
        catch (ArgumentException ex)
        {
            throw new BadRequestException("id: " + ex.Message.Split(" (Parameter", 2)[0]);
        }

        return id;
    }

    private static string FileName(string instanceId)
    {
        var name = new StringBuilder(instanceId.Length);
        foreach (var c in instanceId)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_');
        }

        return name.ToString();
    }

    [LoggerMessage(EventId = 3202, Level = LogLevel.Warning, Message = "Web console request {Path} failed: the store is unavailable")]
    private static partial void LogStoreUnavailable(ILogger logger, string path, Exception exception);

    /// <summary>A request the console cannot answer as asked; the message names the parameter.</summary>
    private sealed class BadRequestException(string message) : Exception(message);
}
