using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KataWorkflows.Host;
using KataWorkflows.Host.Configuration;
using KataWorkflows.TestSupport;
using KataWorkflows.WebConsole.Tests.Harness;

namespace KataWorkflows.WebConsole.Tests;

/// <summary>The console's listener, configuration and JSON, without a browser.</summary>
public sealed class ConsoleHttpTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_console_is_read_only_and_answers_bad_requests_with_the_parameter_named()
    {
        await using var host = await ConsoleHost.StartAsync();
        using var http = new HttpClient { BaseAddress = host.Url };

        using var post = await http.PostAsync("/api/runs", new StringContent("{}"), Ct);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Equal("GET, HEAD", post.Content.Headers.Allow.Count > 0 ? string.Join(", ", post.Content.Headers.Allow) : string.Join(", ", post.Headers.GetValues("Allow")));
        Assert.Contains("status: unknown status 'Bogus'", await ErrorAsync(http, "/api/runs?status=Bogus", HttpStatusCode.BadRequest));
        Assert.Contains("size: must be a whole number from 1 to 500", await ErrorAsync(http, "/api/runs?size=0", HttpStatusCode.BadRequest));
        Assert.Contains("from: must be a time", await ErrorAsync(http, "/api/runs?from=yesterday", HttpStatusCode.BadRequest));
        Assert.Contains("ContinuationToken", await ErrorAsync(http, "/api/runs?page=bm9wZQ", HttpStatusCode.BadRequest));
        Assert.Contains("id: the run's instance id is required", await ErrorAsync(http, "/api/run", HttpStatusCode.BadRequest));
        Assert.Contains("no run 'nobody'", await ErrorAsync(http, "/api/run?id=nobody", HttpStatusCode.NotFound));
        Assert.Contains("no run 'nobody'", await ErrorAsync(http, "/api/export?id=nobody", HttpStatusCode.NotFound));
        // The gRPC services are not on this listener: a mutating call cannot reach the host through the console.
        Assert.Contains("no such page", await ErrorAsync(http, "/kataworkflows.v1.Sandboxes/CreateSandbox", HttpStatusCode.NotFound));
    }

    [Fact]
    public async Task The_page_loads_only_files_the_host_serves_under_a_strict_content_security_policy()
    {
        await using var host = await ConsoleHost.StartAsync();
        using var http = new HttpClient { BaseAddress = host.Url };

        using var page = await http.GetAsync("/runs", Ct);
        page.EnsureSuccessStatusCode();
        var csp = string.Join(";", page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'self'", csp);
        Assert.Contains("script-src 'self'", csp);
        var html = await page.Content.ReadAsStringAsync(Ct);
        Assert.DoesNotContain("//", string.Join(' ', System.Text.RegularExpressions.Regex.Matches(html, "(?:src|href)=\"([^\"]*)\"").Select(m => m.Groups[1].Value)));
        foreach (var asset in new[] { "/assets/app.js", "/assets/app.css", "/assets/vendor/vis-timeline-graph2d.min.js" })
        {
            using var response = await http.GetAsync(asset, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("nosniff", string.Join("", response.Headers.GetValues("X-Content-Type-Options")));
            using var again = new HttpRequestMessage(HttpMethod.Get, asset);
            again.Headers.IfNoneMatch.Add(response.Headers.ETag!);
            using var cached = await http.SendAsync(again, Ct);
            Assert.Equal(HttpStatusCode.NotModified, cached.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/assets/../appsettings.json", Ct)).StatusCode);
    }

    [Fact]
    public async Task The_runs_json_is_newest_first_filtered_and_paged()
    {
        await using var host = await ConsoleHost.StartAsync();
        var ids = new List<string>();
        foreach (var sandbox in new[] { "p-1", "p-2", "p-3" })
        {
            ids.Add(await host.CallAsync("CreateSandbox", sandbox, ConsoleHost.Create(sandbox)));
        }

        ids.Add(await host.CallAsync("CreateSandbox", ConsoleHost.FailingSandbox, ConsoleHost.Create(ConsoleHost.FailingSandbox, "c1")));
        using var http = new HttpClient { BaseAddress = host.Url };

        var first = await http.GetFromJsonAsync<JsonElement>("/api/runs?size=3", Ct);
        var second = await http.GetFromJsonAsync<JsonElement>($"/api/runs?size=3&page={Uri.EscapeDataString(first.GetProperty("next").GetString()!)}", Ct);
        var paged = first.GetProperty("runs").EnumerateArray().Concat(second.GetProperty("runs").EnumerateArray()).Select(r => r.GetProperty("instanceId").GetString()).ToList();
        Assert.Equal(Enumerable.Reverse(ids), paged);
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next").ValueKind);

        var failed = await http.GetFromJsonAsync<JsonElement>("/api/runs?status=Failed", Ct);
        var run = Assert.Single(failed.GetProperty("runs").EnumerateArray());
        Assert.Equal(ids[^1], run.GetProperty("instanceId").GetString());
        Assert.Equal("compensated", run.GetProperty("outcome").GetString());
        var bySandbox = await http.GetFromJsonAsync<JsonElement>("/api/runs?sandbox=p-2", Ct);
        Assert.Equal([ids[1]], bySandbox.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("instanceId").GetString()));
        var byName = await http.GetFromJsonAsync<JsonElement>("/api/runs?name=RunSandbox", Ct);
        Assert.Empty(byName.GetProperty("runs").EnumerateArray());
        var later = await http.GetFromJsonAsync<JsonElement>($"/api/runs?from={DateTime.UtcNow.AddMinutes(1):o}", Ct);
        Assert.Empty(later.GetProperty("runs").EnumerateArray());
    }

    [Fact]
    public async Task Kwf_prints_the_console_page_of_a_run_in_wf_show_and_after_a_failed_call()
    {
        await using var host = await ConsoleHost.StartAsync();
        var environment = new Dictionary<string, string> { ["KWF_CONSOLE_URL"] = host.Url.AbsoluteUri };
        string[] mock = ["--hypervisor", "mock", "--agent", "noop", "--kernel", "/usr/share/kata/vmlinuz", "--image", "/usr/share/kata/kata.img", "--interworking-model", "none"];

        var failed = await host.KwfAsync(environment, ["sandbox", "create", ConsoleHost.FailingSandbox, "--container", "c1", .. mock]);
        Assert.Equal(5, failed.Exit);
        var instanceId = (await host.Store.QueryInstancesAsync(new Engine.Storage.OrchestrationQuery(), Ct)).Instances.Single().InstanceId;
        var page = host.RunPage(instanceId);
        Assert.Contains($"console: {page}", failed.Err);

        var shown = await host.KwfAsync(environment, "wf", "show", instanceId);
        Assert.Equal(0, shown.Exit);
        Assert.Contains($"console: {page}", shown.Out);
        var json = await host.KwfAsync(environment, "--json", "wf", "show", instanceId);
        Assert.Equal(page, JsonDocument.Parse(json.Out).RootElement.GetProperty("consoleUrl").GetString());
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(page, Ct)).StatusCode);

        var plain = await host.KwfAsync(null, "wf", "show", instanceId);
        Assert.DoesNotContain("console:", plain.Out);
        var bad = await host.KwfAsync(new Dictionary<string, string> { ["KWF_CONSOLE_URL"] = "ftp://x" }, "wf", "show", instanceId);
        Assert.Equal(2, bad.Exit);
        Assert.Contains("--console-url (or KWF_CONSOLE_URL) must be", bad.Err);
    }

    [Theory]
    [InlineData("--KataWorkflows:WebConsole:Address=0.0.0.0", "KataWorkflows:WebConsole:Tls:CertificatePath: is required for the web console off loopback")]
    [InlineData("--KataWorkflows:WebConsole:Address=localhost", "KataWorkflows:WebConsole:Address: must be an IP address, got 'localhost'")]
    [InlineData("--KataWorkflows:WebConsole:Port=70000", "KataWorkflows:WebConsole:Port: must be between 0 and 65535, got 70000")]
    [InlineData("--KataWorkflows:WebConsole:Tls:KeyPath=/nonexistent.key", "KataWorkflows:WebConsole:Tls:KeyPath: file '/nonexistent.key' does not exist")]
    [InlineData("--KataWorkflows:WebConsole:Colour=blue", "KataWorkflows:WebConsole:Colour: unknown key")]
    public async Task A_bad_console_configuration_stops_the_host_at_start_with_the_key_named(string argument, string error)
    {
        string[] args = argument.Contains("Port=", StringComparison.Ordinal) ? [argument] : ["--KataWorkflows:WebConsole:Port=0", argument];
        var ex = Assert.Throws<HostConfigurationException>(() => KataWorkflowsHost.Build(["--KataWorkflows:StateDirectory=/tmp/kwf-wc-bad", .. args]));
        Assert.Contains(error, ex.Message);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task The_console_is_off_unless_a_port_is_configured()
    {
        var dir = Path.Combine("/tmp", "kwf-wc-" + Guid.NewGuid().ToString("N")[..10]);
        await using var app = KataWorkflowsHost.Build([$"--KataWorkflows:StateDirectory={dir}/state", $"--KataWorkflows:RunRoot={dir}/run", $"--KataWorkflows:Listen:UnixSocket={dir}/kwf.sock"]);
        await app.StartAsync(Ct);
        try
        {
            Assert.Null(Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Host.WebConsole.WebConsoleServer>(app.Services).Url);
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Over_tls_the_console_needs_a_client_certificate_its_ca_signed()
    {
        var dir = Directory.CreateTempSubdirectory("kwf-wc-certs-").FullName;
        try
        {
            var certs = TestCertificates.Create(dir);
            await using var host = await ConsoleHost.StartAsync(
                false,
                $"--KataWorkflows:WebConsole:Tls:CertificatePath={certs.ServerCertPath}",
                $"--KataWorkflows:WebConsole:Tls:KeyPath={certs.ServerKeyPath}",
                $"--KataWorkflows:WebConsole:Tls:ClientCaPath={certs.CaPath}");
            Assert.Equal("https", host.Url.Scheme);

            using var trusted = Client(certs, certs.Client);
            using var ok = await trusted.GetAsync("/api/sandboxes", Ct);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            using var none = Client(certs, null);
            await Assert.ThrowsAsync<HttpRequestException>(() => none.GetAsync("/api/sandboxes", Ct));
            using var untrusted = Client(certs, certs.Untrusted);
            await Assert.ThrowsAsync<HttpRequestException>(() => untrusted.GetAsync("/api/sandboxes", Ct));

            HttpClient Client(TestCertificates c, System.Security.Cryptography.X509Certificates.X509Certificate2? clientCertificate)
            {
                var handler = new SocketsHttpHandler();
                handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is System.Security.Cryptography.X509Certificates.X509Certificate2 server && c.IsTrustedServer(server);
                if (clientCertificate is not null)
                {
                    handler.SslOptions.ClientCertificates = [clientCertificate];
                }

                return new HttpClient(handler) { BaseAddress = host.Url };
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<string> ErrorAsync(HttpClient http, string path, HttpStatusCode expected)
    {
        using var response = await http.GetAsync(path, Ct);
        Assert.Equal(expected, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("error").GetString()!;
    }
}
