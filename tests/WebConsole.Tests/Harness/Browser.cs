using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataWorkflows.WebConsole.Tests.Harness;

/// <summary>
/// Headless Chromium (Debian's <c>/usr/bin/chromium</c>) driven by playwright-core through a node process running
/// <c>browser/bridge.mjs</c>: one JSON command per line in, one answer per line out. Every command is bounded in time,
/// and disposing closes the browser and kills node.
/// </summary>
public sealed class Browser : IAsyncDisposable
{
    /// <summary>Where Debian's chromium package puts the browser.</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);
    private readonly Process _node;
    private readonly StringBuilder _stderr = new();
    private readonly Lock _sync = new();
    private int _nextId;

    private Browser(Process node)
    {
        _node = node;
    }

    /// <summary>
    /// Why the browser tests cannot run here, or null when they can: chromium, node or the installed playwright-core
    /// is missing. Under <c>CI</c> a missing part is a failure, not a skip.
    /// </summary>
    public static string? MissingPart()
    {
        if (!File.Exists(ChromiumPath))
        {
            return $"{ChromiumPath} is missing (apt-get install chromium)";
        }

        if (FindNode() is null)
        {
            return "node is not on PATH";
        }

        return File.Exists(Path.Combine(ProjectDirectory, "node_modules", "playwright-core", "package.json"))
            ? null
            : $"playwright-core is not installed in {ProjectDirectory}/node_modules (the build runs npm ci there)";
    }

    /// <summary>Skips the test when a part is missing and CI is unset; under CI fails it instead.</summary>
    public static void RequireParts()
    {
        var missing = MissingPart();
        if (missing is null)
        {
            return;
        }

        Assert.SkipWhen(string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")), $"browser tests skipped: {missing}");
        Assert.Fail($"CI is set and the browser tests cannot run: {missing}");
    }

    /// <summary>Starts node and launches Chromium.</summary>
    public static async Task<Browser> LaunchAsync(int width = 1400, int height = 900)
    {
        RequireParts();
        var start = new ProcessStartInfo(FindNode()!, [Path.Combine(ProjectDirectory, "browser", "bridge.mjs")])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = ProjectDirectory,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        var node = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var browser = new Browser(node);
        node.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (browser._sync)
                {
                    browser._stderr.AppendLine(e.Data);
                }
            }
        };
        node.BeginErrorReadLine();
        try
        {
            await browser.SendAsync("launch", new { executablePath = ChromiumPath, width, height });
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }

        return browser;
    }

    /// <summary>Adds a script that runs in every page before the page's own scripts.</summary>
    public Task AddInitScriptAsync(string script) => SendAsync("initScript", new { script });

    /// <summary>Opens a URL; returns the HTTP status.</summary>
    public async Task<int> GotoAsync(string url) => (int)(await SendAsync("goto", new { url, timeout = 20_000 }))!;

    /// <summary>Waits until a JavaScript expression is truthy in the page; returns its value.</summary>
    public Task<JsonNode?> WaitForAsync(string expression, int timeoutMs = 20_000) =>
        SendAsync("waitForFunction", new { expression, timeout = timeoutMs });

    /// <summary>Evaluates a JavaScript expression in the page.</summary>
    public Task<JsonNode?> EvaluateAsync(string expression) => SendAsync("evaluate", new { expression });

    /// <summary>Clicks an element.</summary>
    public Task ClickAsync(string selector) => SendAsync("click", new { selector, timeout = 10_000 });

    /// <summary>Types into an input.</summary>
    public Task FillAsync(string selector, string value) => SendAsync("fill", new { selector, value, timeout = 10_000 });

    /// <summary>Clicks a link that downloads a file; returns the file's name and text.</summary>
    public async Task<(string FileName, string Text)> DownloadAsync(string selector)
    {
        var value = (await SendAsync("download", new { selector, timeout = 15_000 }))!;
        return ((string)value["fileName"]!, (string)value["text"]!);
    }

    /// <summary>Writes a PNG of the page (or of one element).</summary>
    public Task ScreenshotAsync(string path, string? selector = null, bool fullPage = false) =>
        SendAsync("screenshot", new { path, selector, fullPage });

    /// <summary>The page's script errors, failed requests and console errors since the last call.</summary>
    public async Task<IReadOnlyList<string>> ErrorsAsync() =>
        [.. ((JsonArray)(await SendAsync("errors", new { }))!).Select(e => (string)e!)];

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_node.HasExited)
            {
                await SendAsync("close", new { }).WaitAsync(TimeSpan.FromSeconds(10));
                await _node.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or IOException)
        {
            // Killed below.
        }
        finally
        {
            if (!_node.HasExited)
            {
                _node.Kill(entireProcessTree: true);
            }

            _node.Dispose();
        }
    }

    private async Task<JsonNode?> SendAsync(string op, object arguments)
    {
        var id = Interlocked.Increment(ref _nextId);
        var command = JsonSerializer.SerializeToNode(arguments)!.AsObject();
        command["id"] = id;
        command["op"] = op;
        await _node.StandardInput.WriteLineAsync(command.ToJsonString());
        await _node.StandardInput.FlushAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        string? line;
        try
        {
            line = await _node.StandardOutput.ReadLineAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the browser did not answer '{op}' within {CommandTimeout.TotalSeconds:0} s; node's stderr:\n{Stderr}");
        }

        if (line is null)
        {
            throw new InvalidOperationException($"node exited before answering '{op}'; its stderr:\n{Stderr}");
        }

        var answer = JsonNode.Parse(line)!;
        if ((int)answer["id"]! != id)
        {
            throw new InvalidOperationException($"the bridge answered command {answer["id"]} to command {id}: {line}");
        }

        return (bool)answer["ok"]! ? answer["value"] : throw new BrowserCommandException(op, (string?)answer["error"] ?? line);
    }

    private string Stderr
    {
        get
        {
            lock (_sync)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>This test project's source directory (node_modules and the bridge), recorded at build time.</summary>
    internal static string ProjectDirectory =>
        typeof(Browser).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ProjectDirectory").Value!;

    private static string? FindNode() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "node")).FirstOrDefault(File.Exists);
}

/// <summary>A browser command failed in the page (a selector not found, an expression that threw, a timeout).</summary>
public sealed class BrowserCommandException(string op, string error) : Exception($"browser '{op}' failed: {error}");
