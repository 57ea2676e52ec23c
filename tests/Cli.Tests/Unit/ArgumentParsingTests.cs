using KataWorkflows.Cli.Commands;
using KataWorkflows.Cli.Transport;

namespace KataWorkflows.Cli.Tests.Unit;

public sealed class ArgumentParsingTests
{
    [Fact]
    public void Socket_defaults_to_the_standard_path_and_KWF_SOCKET_overrides_it()
    {
        var app = InProcessKwf.App();
        Assert.Equal(ConnectionSettings.DefaultSocket, app.Options.Connection(app.Parse(["sandbox", "list"])).Socket);

        var fromEnv = InProcessKwf.App(new Dictionary<string, string> { ["KWF_SOCKET"] = "/tmp/x.sock" });
        Assert.Equal("/tmp/x.sock", fromEnv.Options.Connection(fromEnv.Parse(["sandbox", "list"])).Socket);
        Assert.Equal("/tmp/y.sock", fromEnv.Options.Connection(fromEnv.Parse(["sandbox", "list", "--socket", "/tmp/y.sock"])).Socket);
    }

    [Fact]
    public void Address_and_tls_files_come_from_flags_or_environment()
    {
        var dir = Directory.CreateTempSubdirectory("kwf-tls-");
        try
        {
            var ca = Path.Combine(dir.FullName, "ca.pem");
            var cert = Path.Combine(dir.FullName, "c.pem");
            var key = Path.Combine(dir.FullName, "k.pem");
            foreach (var f in new[] { ca, cert, key })
            {
                File.WriteAllText(f, "x");
            }

            var app = InProcessKwf.App(new Dictionary<string, string> { ["KWF_ADDRESS"] = "https://h:7443", ["KWF_CA_CERT"] = ca, ["KWF_CERT"] = cert, ["KWF_KEY"] = key });
            var settings = app.Options.Connection(app.Parse(["wf", "list"]));
            Assert.Equal(new Uri("https://h:7443"), settings.Address);
            Assert.Equal((ca, cert, key), (settings.CaCertificate, settings.Certificate, settings.Key));
            Assert.Equal("https://h:7443/", settings.Describe());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData(new[] { "--address", "ftp://h:1" }, "--address must be https://host:port")]
    [InlineData(new[] { "--address", "not a uri" }, "--address must be https://host:port")]
    [InlineData(new[] { "--cert", "/nonexistent.pem" }, "apply to --address")]
    [InlineData(new[] { "--address", "https://h:1", "--cert", "/x.pem" }, "--cert and --key go together")]
    [InlineData(new[] { "--address", "https://h:1", "--ca-cert", "/nonexistent/ca.pem" }, "--ca-cert: no such file")]
    public async Task Bad_connection_options_are_usage_errors_naming_the_option(string[] options, string message)
    {
        var (exit, _, err) = await InProcessKwf.RunAsync(["wf", "list", .. options]);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains(message, err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30", 30_000)]
    [InlineData("2.5", 2_500)]
    [InlineData("45s", 45_000)]
    [InlineData("5m", 300_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("250ms", 250)]
    [InlineData("1m30s", 90_000)]
    public void Durations_read_seconds_and_units(string text, double milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), GlobalOptions.ParseDuration(text, "--timeout"));

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("soon")]
    [InlineData("5x")]
    [InlineData("")]
    [InlineData("99999999999h")]
    [InlineData("99999999999")]
    [InlineData("1e300")]
    [InlineData("600h")]
    public void Bad_durations_are_usage_errors(string text)
    {
        var ex = Assert.Throws<CliException>(() => GlobalOptions.ParseDuration(text, "--timeout"));
        Assert.Equal(ExitCodes.Usage, ex.ExitCode);
        Assert.Contains("--timeout", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_duration_too_long_for_a_timer_names_the_limit_and_the_longest_one_is_read()
    {
        var ex = Assert.Throws<CliException>(() => GlobalOptions.ParseDuration("99999999999h", "--step-timeout"));

        Assert.Equal("--step-timeout must be at most 596.5h (24.9 days), got '99999999999h'", ex.Message);
        Assert.Equal(GlobalOptions.MaxDuration, GlobalOptions.ParseDuration("2147483.647", "--timeout"));
    }

    [Fact]
    public void An_argument_starting_with_at_is_an_argument_not_a_response_file()
    {
        var parse = InProcessKwf.App().Parse(["wf", "history", "@sandbox@sb1"]);

        Assert.Empty(parse.Errors);
        Assert.Contains("@sandbox@sb1", parse.Tokens.Select(t => t.Value));
    }

    [Theory]
    [InlineData(new[] { "sandbox" }, "Required command was not provided")]
    [InlineData(new[] { "sandbox", "frob" }, "'frob'")]
    [InlineData(new[] { "container", "exec", "sb1" }, "Required argument missing")]
    [InlineData(new[] { "sandbox", "status", "sb1", "--bogus" }, "'--bogus'")]
    [InlineData(new[] { "wf", "list", "--limit", "many" }, "many")]
    public async Task Parse_errors_exit_2_and_point_to_help(string[] args, string message)
    {
        var (exit, _, err) = await InProcessKwf.RunAsync(args);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.Contains("--help", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_exits_0_and_lists_the_exit_codes()
    {
        var (exit, output, _) = await InProcessKwf.RunAsync(["--help"]);
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("4 failed precondition", output, StringComparison.Ordinal);
        Assert.Contains("wf", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("9", 9)]
    [InlineData("KILL", 9)]
    [InlineData("sigterm", 15)]
    [InlineData("SIGINT", 2)]
    public void Signals_are_numbers_or_names(string text, int number) => Assert.Equal(number, SandboxCommands.ParseSignal(text));

    [Theory]
    [InlineData("SIGNOPE")]
    [InlineData("0")]
    [InlineData("99")]
    public void Unknown_signals_are_usage_errors(string text) =>
        Assert.Equal(ExitCodes.Usage, Assert.Throws<CliException>(() => SandboxCommands.ParseSignal(text)).ExitCode);

    [Fact]
    public void Routes_read_destination_and_named_fields()
    {
        var route = SandboxCommands.ParseRoute("10.0.0.0/24,via=10.0.0.1,dev=eth0,scope=253");
        Assert.Equal(("10.0.0.0/24", "10.0.0.1", "eth0", 253), (route.Dest, route.Gateway, route.Device, route.Scope));
        Assert.Contains("'gw=1'", Assert.Throws<CliException>(() => SandboxCommands.ParseRoute("10.0.0.0/24,gw=1")).Message, StringComparison.Ordinal);
        Assert.Throws<CliException>(() => SandboxCommands.ParseRoute("via=1.1.1.1"));
    }

    [Fact]
    public void Annotations_must_be_key_value()
    {
        Assert.Equal("b=c", SandboxCommands.ParseAnnotations(["a=b=c"])["a"]);
        Assert.Contains("KEY=VALUE", Assert.Throws<CliException>(() => SandboxCommands.ParseAnnotations(["novalue"])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sandbox_config_merges_the_file_and_flags_with_flags_winning()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, """{ "id": "sb1", "hypervisorType": "qemu", "agentType": "noop", "containers": [ { "id": "c1" } ], "annotations": { "a": "1" } }""");
            var options = new SandboxConfigOptions();
            var command = new System.CommandLine.RootCommand { options.Id };
            foreach (var o in options.All)
            {
                command.Options.Add(o);
            }

            var parse = command.Parse(["--config", file, "--hypervisor", "mock", "--container", "c2", "--annotation", "b=2", "--vcpus", "2", "--kernel", "/k", "--image", "/i"]);
            Assert.Empty(parse.Errors);
            var config = SandboxCommands.BuildSandboxConfig(parse, options, TextReader.Null);
            Assert.Equal("sb1", config.Id);
            Assert.Equal("mock", config.HypervisorType);
            Assert.Equal(["c1", "c2"], config.Containers.Select(c => c.Id));
            Assert.Equal("1", config.Annotations["a"]);
            Assert.Equal("2", config.Annotations["b"]);
            Assert.Equal(2, config.HypervisorConfig.NumVCpus);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Sandbox_config_from_stdin_with_an_unknown_field_is_a_usage_error_naming_it()
    {
        var (exit, _, err) = await InProcessKwf.RunAsync(
            ["sandbox", "create", "--config", "-", "--socket", InProcessKwf.MissingSocket()], stdin: """{ "id": "sb1", "hypervisr": "mock" }""");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("stdin", err, StringComparison.Ordinal);
        Assert.Contains("hypervisr", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "sandbox", "create" }, "a sandbox id is required")]
    [InlineData(new[] { "sandbox", "create", "bad id!" }, "sandboxConfig.id")]
    [InlineData(new[] { "sandbox", "create", "sb1", "--container", "c1", "--container", "c1" }, "Duplicated container")]
    [InlineData(new[] { "sandbox", "run", "sb1", "--config", "/nonexistent/sb.json" }, "--config: cannot read '/nonexistent/sb.json'")]
    [InlineData(new[] { "sandbox", "create", "sb1", "--interworking-model", "bridged" }, "interworkingModel must be tcfilter, macvtap or none")]
    [InlineData(new[] { "sandbox", "create", "sb1", "--kernel", "/k", "--image", "/i", "--config", "/nonexistent/x.json" }, "--config: cannot read")]
    [InlineData(new[] { "container", "create", "sb1" }, "a container id is required")]
    [InlineData(new[] { "container", "update", "sb1", "c1" }, "update needs --config")]
    [InlineData(new[] { "container", "exec", "sb1", "c1", "--env", "NOVALUE", "--", "ls" }, "--env must be NAME=VALUE")]
    [InlineData(new[] { "container", "kill", "sb1", "c1", "--signal", "NOPE" }, "unknown signal 'NOPE'")]
    [InlineData(new[] { "network", "add-iface", "sb1" }, "add-iface needs --name or --mac")]
    [InlineData(new[] { "network", "update-routes", "sb1" }, "update-routes needs --config FILE or --route")]
    [InlineData(new[] { "device", "add", "sb1", "--id", "d1" }, "device add needs --id and --host-path")]
    [InlineData(new[] { "sandbox", "stop", "sb1", "--step-timeout", "later" }, "--step-timeout must be a duration")]
    [InlineData(new[] { "sandbox", "start", "sb1", "--request-id", "has space" }, "requestId must be 1 to 64 characters")]
    [InlineData(new[] { "wf", "list", "--status", "Sleeping" }, "unknown status 'Sleeping'")]
    [InlineData(new[] { "wf", "list", "--limit", "0" }, "--limit must be positive")]
    [InlineData(new[] { "wf", "purge" }, "purge needs an instance id or a filter")]
    [InlineData(new[] { "wf", "raise", "i1", "go", "--data", "{nope" }, "--data must be JSON")]
    [InlineData(new[] { "wf", "replay", "/nonexistent/h.json" }, "cannot read '/nonexistent/h.json'")]
    [InlineData(new[] { "wf", "replay", "h.json", "--module", "X" }, "--module needs --assembly")]
    public async Task Bad_arguments_are_refused_before_any_call_with_exit_2(string[] args, string message)
    {
        // The socket does not exist: reaching the host would be exit 7, so exit 2 proves nothing was sent.
        var (exit, _, err) = await InProcessKwf.RunAsync([.. args, "--socket", InProcessKwf.MissingSocket()]);
        Assert.True(exit == ExitCodes.Usage, $"exit {exit}: {err}");
        Assert.Contains(message, err, StringComparison.Ordinal);
    }
}
