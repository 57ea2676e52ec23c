using System.Text.Json.Nodes;
using KataWorkflows.Cli.Tests.Harness;

namespace KataWorkflows.Cli.Tests.EndToEnd;

/// <summary>Every sandbox, container, network, device and cleanup command of the built kwf against the real host.</summary>
public sealed class SandboxCommandTests(HostFixture host) : IClassFixture<HostFixture>
{
    [Fact]
    public async Task Run_shows_each_step_live_then_the_sandbox_and_status_list_stats_read_it()
    {
        var run = (await host.KwfAsync(["sandbox", "run", .. HostFixture.MockSandbox("sb-run", "c1")])).Expect(ExitCodes.Ok);
        var lines = run.Out.Split('\n');
        Assert.StartsWith("RunSandbox run RunSandbox:sb-run:", lines[0], StringComparison.Ordinal);
        foreach (var step in new[] { "sandbox.createNetwork", "sandbox.startVM", "sandbox.getGuestDetails", "sandbox.createContainers", "sandbox.storeSandbox", "container.start" })
        {
            var started = Array.FindIndex(lines, l => l.EndsWith($">    {step}", StringComparison.Ordinal));
            var ended = Array.FindIndex(lines, l => l.Contains($"ok   {step} (", StringComparison.Ordinal));
            Assert.True(started > 0 && ended > started, $"{step} must start, then end with a duration\n{run}");
        }

        Assert.Contains(lines, l => l.EndsWith("run completed", StringComparison.Ordinal) || l.Contains("run completed (", StringComparison.Ordinal));
        Assert.Matches(@"(?m)^sb-run\s+Running\s+mock\s+noop\s+c1", run.Out);

        var status = (await host.KwfAsync("sandbox", "status", "sb-run")).Expect(ExitCodes.Ok);
        Assert.Matches(@"(?m)^c1\s+Running", status.Out);
        var json = (await host.KwfAsync("--json", "sandbox", "status", "sb-run")).Expect(ExitCodes.Ok).Json;
        Assert.Equal("Running", (string?)json["state"]);
        Assert.Equal("c1", (string?)json["containers"]![0]!["id"]);

        var list = (await host.KwfAsync("--json", "sandbox", "list")).Expect(ExitCodes.Ok).Json.AsArray();
        Assert.Contains(list, s => (string?)s!["id"] == "sb-run");
        Assert.Matches(@"(?m)^sb-run\s+Running", (await host.KwfAsync("sandbox", "list")).Expect(ExitCodes.Ok).Out);

        var stats = (await host.KwfAsync("--json", "sandbox", "stats", "sb-run")).Expect(ExitCodes.Ok).Json;
        Assert.Equal("sb-run", (string?)stats["sandboxId"]);
        Assert.Contains("containers[0].containerId", (await host.KwfAsync("sandbox", "stats", "sb-run")).Expect(ExitCodes.Ok).Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_start_pause_resume_stop_delete_move_the_sandbox_through_its_states()
    {
        string State(KwfResult r) => (string?)r.Json["result"]?["sandbox"]?["state"] ?? "(none)";

        Assert.Equal("Ready", State((await host.KwfAsync(["--json", "sandbox", "create", .. HostFixture.MockSandbox("sb-life", "c1")])).Expect(ExitCodes.Ok)));
        Assert.Equal("Running", State((await host.KwfAsync("--json", "sandbox", "start", "sb-life")).Expect(ExitCodes.Ok)));
        Assert.Equal("Paused", State((await host.KwfAsync("--json", "sandbox", "pause", "sb-life")).Expect(ExitCodes.Ok)));

        // Start refuses a paused sandbox: a failed precondition, recorded by the run.
        var refused = (await host.KwfAsync("sandbox", "start", "sb-life")).Expect(ExitCodes.FailedPrecondition);
        Assert.Contains("paused", refused.Err, StringComparison.Ordinal);

        Assert.Equal("Running", State((await host.KwfAsync("--json", "sandbox", "resume", "sb-life")).Expect(ExitCodes.Ok)));
        Assert.Equal("Stopped", State((await host.KwfAsync("--json", "sandbox", "stop", "sb-life", "--force")).Expect(ExitCodes.Ok)));
        var deleted = (await host.KwfAsync("--json", "sandbox", "delete", "sb-life")).Expect(ExitCodes.Ok).Json;
        Assert.Equal("completed", (string?)deleted["outcome"]);
        (await host.KwfAsync("sandbox", "status", "sb-life")).Expect(ExitCodes.NotFound);
    }

    [Fact]
    public async Task Container_commands_create_start_exec_ps_update_pause_resume_kill_stop_delete_and_cleanup()
    {
        (await host.KwfAsync(["sandbox", "run", .. HostFixture.MockSandbox("sb-ctr", "c1")])).Expect(ExitCodes.Ok);
        var created = (await host.KwfAsync("--json", "container", "create", "sb-ctr", "c2", "--rootfs", "/run/rootfs/c2", "--arg", "/bin/sh", "--annotation", "team=infra")).Expect(ExitCodes.Ok).Json;
        Assert.Contains(created["result"]!["sandbox"]!["containers"]!.AsArray(), c => (string?)c!["id"] == "c2");
        (await host.KwfAsync("container", "start", "sb-ctr", "c2")).Expect(ExitCodes.Ok);

        var exec = (await host.KwfAsync("--json", "container", "exec", "sb-ctr", "c2", "--env", "A=1", "--", "/bin/echo", "hello")).Expect(ExitCodes.Ok).Json;
        Assert.Equal("completed", (string?)exec["outcome"]);
        Assert.Contains(exec["steps"]!.AsArray(), s => (string?)s!["name"] == "container.exec" && (string?)s["kind"] == "step_completed");

        Assert.Matches(@"(?m)^c2\s+Running", (await host.KwfAsync("container", "status", "sb-ctr", "c2")).Expect(ExitCodes.Ok).Out);
        Assert.NotNull((await host.KwfAsync("--json", "container", "ps", "sb-ctr", "c2")).Expect(ExitCodes.Ok).Json);
        Assert.Equal("c2", (string?)(await host.KwfAsync("--json", "container", "stats", "sb-ctr", "c2")).Expect(ExitCodes.Ok).Json["containerId"]);

        (await host.KwfAsync("container", "update", "sb-ctr", "c2", "--memory", "268435456", "--cpu-quota", "50000", "--cpu-period", "100000")).Expect(ExitCodes.Ok);
        (await host.KwfAsync("container", "pause", "sb-ctr", "c2")).Expect(ExitCodes.Ok);
        Assert.Matches(@"(?m)^c2\s+Paused", (await host.KwfAsync("container", "status", "sb-ctr", "c2")).Expect(ExitCodes.Ok).Out);
        (await host.KwfAsync("container", "resume", "sb-ctr", "c2")).Expect(ExitCodes.Ok);
        (await host.KwfAsync("container", "kill", "sb-ctr", "c2", "--signal", "SIGKILL", "--all")).Expect(ExitCodes.Ok);
        (await host.KwfAsync("container", "stop", "sb-ctr", "c2", "--force")).Expect(ExitCodes.Ok);
        (await host.KwfAsync("container", "delete", "sb-ctr", "c2")).Expect(ExitCodes.Ok);
        (await host.KwfAsync("container", "status", "sb-ctr", "c2")).Expect(ExitCodes.NotFound);

        // Cleanup of the last container stops and deletes the sandbox too.
        var cleanup = (await host.KwfAsync("--json", "cleanup", "sb-ctr", "c1")).Expect(ExitCodes.Ok).Json;
        Assert.Null(cleanup["result"]?["sandbox"]);
        (await host.KwfAsync("sandbox", "status", "sb-ctr")).Expect(ExitCodes.NotFound);
    }

    [Fact]
    public async Task A_SIGKILL_to_a_stopped_container_exits_0_with_its_note_and_other_signals_exit_4_with_Katas_message()
    {
        (await host.KwfAsync(["sandbox", "run", .. HostFixture.MockSandbox("sb-kill", "c1")])).Expect(ExitCodes.Ok);
        (await host.KwfAsync("container", "stop", "sb-kill", "c1")).Expect(ExitCodes.Ok);
        const string Why = "Container not ready, running or paused, impossible to signal the container (container c1 is stopped)";

        var kill = (await host.KwfAsync("container", "kill", "sb-kill", "c1", "--signal", "SIGKILL")).Expect(ExitCodes.Ok);
        var json = (await host.KwfAsync("--json", "container", "kill", "sb-kill", "c1", "--signal", "9", "--all")).Expect(ExitCodes.Ok).Json;
        var term = (await host.KwfAsync("container", "kill", "sb-kill", "c1", "--signal", "TERM")).Expect(ExitCodes.FailedPrecondition);

        Assert.Contains($"note: SIGKILL not sent: {Why}\n", kill.Out, StringComparison.Ordinal);
        Assert.Equal(("completed", $"SIGKILL not sent: {Why}"), ((string?)json["outcome"], (string?)json["result"]!["note"]));
        Assert.Contains(Why, term.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("note:", term.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ps_of_a_container_or_sandbox_that_is_not_running_exits_4_with_Katas_message()
    {
        (await host.KwfAsync(["sandbox", "run", .. HostFixture.MockSandbox("sb-ps", "c1", "c2")])).Expect(ExitCodes.Ok);
        (await host.KwfAsync("container", "stop", "sb-ps", "c2")).Expect(ExitCodes.Ok);

        (await host.KwfAsync("--json", "container", "ps", "sb-ps", "c1")).Expect(ExitCodes.Ok);
        var stopped = (await host.KwfAsync("container", "ps", "sb-ps", "c2")).Expect(ExitCodes.FailedPrecondition);
        (await host.KwfAsync("sandbox", "pause", "sb-ps")).Expect(ExitCodes.Ok);
        var paused = (await host.KwfAsync("container", "ps", "sb-ps", "c1")).Expect(ExitCodes.FailedPrecondition);
        var missing = (await host.KwfAsync("container", "ps", "sb-ps", "zz")).Expect(ExitCodes.NotFound);

        Assert.Equal("kwf: refused: Container not running, impossible to list processes (container c2 is stopped)", stopped.Err.Trim());
        Assert.Equal("kwf: refused: Sandbox not running, impossible to ps the container (sandbox sb-ps is paused)", paused.Err.Trim());
        Assert.Equal("kwf: not found: Container does not exist: zz", missing.Err.Trim());
        Assert.Empty(stopped.Out);
    }

    [Fact]
    public async Task Network_and_device_commands_add_list_route_and_remove()
    {
        (await host.KwfAsync(["sandbox", "run", .. HostFixture.MockSandbox("sb-net", "c1")])).Expect(ExitCodes.Ok);
        var dir = Directory.CreateTempSubdirectory("kwf-net-");
        try
        {
            var iface = Path.Combine(dir.FullName, "iface.json");
            await File.WriteAllTextAsync(iface, """{ "name": "eth1", "device": "tap1", "ipAddresses": ["10.1.0.2/24"], "hwAddr": "02:00:00:00:00:11" }""", TestContext.Current.CancellationToken);
            var added = (await host.KwfAsync("--json", "network", "add-iface", "sb-net", "--config", iface)).Expect(ExitCodes.Ok).Json;
            Assert.Equal("eth1", (string?)added["result"]!["interface"]!["name"]);
            Assert.Matches(@"(?m)^tap1\s+eth1", (await host.KwfAsync("network", "ifaces", "sb-net")).Expect(ExitCodes.Ok).Out);

            var routes = Path.Combine(dir.FullName, "routes.json");
            await File.WriteAllTextAsync(routes, """[ { "dest": "10.1.0.0/24", "device": "eth1" } ]""", TestContext.Current.CancellationToken);
            (await host.KwfAsync("network", "update-routes", "sb-net", "--config", routes, "--route", "10.2.0.0/16,via=10.1.0.1,dev=eth1")).Expect(ExitCodes.Ok);
            var listed = (await host.KwfAsync("--json", "network", "routes", "sb-net")).Expect(ExitCodes.Ok).Json.AsArray();
            Assert.Equal(["10.1.0.0/24", "10.2.0.0/16"], listed.Select(r => (string?)r!["dest"]));

            // Removed by MAC; removing it again finds nothing, which (as in Kata) is not an error.
            var removed = (await host.KwfAsync("--json", "network", "rm-iface", "sb-net", "--config", iface)).Expect(ExitCodes.Ok).Json;
            Assert.Equal("02:00:00:00:00:11", (string?)removed["result"]!["interface"]!["hwAddr"]);
            var again = (await host.KwfAsync("--json", "network", "rm-iface", "sb-net", "--mac", "02:00:00:00:00:11")).Expect(ExitCodes.Ok).Json;
            Assert.Null(again["result"]!["interface"]);

            var device = (await host.KwfAsync("--json", "device", "add", "sb-net", "--id", "null0", "--host-path", "/dev/null", "--container-path", "/dev/xnull", "--type", "c", "--major", "1", "--minor", "3")).Expect(ExitCodes.Ok).Json;
            Assert.Equal("null0", (string?)device["result"]!["device"]!["id"]);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_failing_step_is_undone_visibly_and_the_run_exits_5()
    {
        var run = await host.KwfAsync(["sandbox", "create", .. HostFixture.MockSandbox(HostFixture.FailingSandbox, "c1")]);
        run.Expect(ExitCodes.RunFailed);
        Assert.Contains("FAIL sandbox.createContainers", run.Out, StringComparison.Ordinal);
        Assert.Matches(@"(?m)undo sandbox\.stopVM \(.*\[compensation\]$", run.Out);
        Assert.Matches(@"(?m)undo sandbox\.removeNetwork \(.*\[compensation\]$", run.Out);
        Assert.Contains("compensated", run.Err, StringComparison.Ordinal);
        (await host.KwfAsync("sandbox", "status", HostFixture.FailingSandbox)).Expect(ExitCodes.NotFound);
    }

    [Fact]
    public async Task Errors_map_to_exit_codes_not_found_and_failed_precondition()
    {
        (await host.KwfAsync("sandbox", "status", "sb-none")).Expect(ExitCodes.NotFound);
        (await host.KwfAsync("container", "status", "sb-none", "c1")).Expect(ExitCodes.NotFound);
        (await host.KwfAsync("sandbox", "stop", "sb-none")).Expect(ExitCodes.NotFound);

        (await host.KwfAsync(["sandbox", "run", .. HostFixture.MockSandbox("sb-dup")])).Expect(ExitCodes.Ok);
        var again = await host.KwfAsync(["sandbox", "create", .. HostFixture.MockSandbox("sb-dup")]);
        again.Expect(ExitCodes.FailedPrecondition);

        // A running sandbox must be stopped before it is deleted.
        (await host.KwfAsync("sandbox", "delete", "sb-dup")).Expect(ExitCodes.FailedPrecondition);
    }

    [Fact]
    public async Task A_request_id_makes_a_retried_call_join_the_same_run()
    {
        (await host.KwfAsync(["sandbox", "create", .. HostFixture.MockSandbox("sb-req")])).Expect(ExitCodes.Ok);
        var first = (await host.KwfAsync("--json", "--request-id", "pause-1", "sandbox", "start", "sb-req")).Expect(ExitCodes.Ok).Json;
        var retry = (await host.KwfAsync("--json", "--request-id", "pause-1", "sandbox", "start", "sb-req")).Expect(ExitCodes.Ok).Json;
        Assert.Equal("StartSandbox:sb-req:pause-1", (string?)first["instanceId"]);
        Assert.Equal((string?)first["instanceId"], (string?)retry["instanceId"]);

        var noWait = (await host.KwfAsync("--no-wait", "sandbox", "pause", "sb-req")).Expect(ExitCodes.Ok);
        Assert.StartsWith("PauseSandbox:sb-req:", noWait.Out.Trim(), StringComparison.Ordinal);
    }
}
