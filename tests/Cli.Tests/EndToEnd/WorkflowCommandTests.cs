using System.Text.Json.Nodes;
using KataWorkflows.Cli.Tests.Harness;
using KataWorkflows.Engine.Serialization;

namespace KataWorkflows.Cli.Tests.EndToEnd;

/// <summary><c>kwf wf ...</c> over the real host's sidecar service, and offline replay of what it exported.</summary>
public sealed class WorkflowCommandTests(HostFixture host) : IClassFixture<HostFixture>
{
    [Fact]
    public async Task List_show_and_history_describe_a_real_run_event_by_event()
    {
        var run = (await host.KwfAsync(["--json", "--request-id", "wf-hist", "sandbox", "run", .. HostFixture.MockSandbox("sb-hist", "c1")])).Expect(ExitCodes.Ok).Json;
        var id = (string)run["instanceId"]!;
        Assert.Equal("RunSandbox:sb-hist:wf-hist", id);

        var list = (await host.KwfAsync("--json", "wf", "list", "--prefix", "RunSandbox:sb-hist:", "--status", "Completed")).Expect(ExitCodes.Ok).Json.AsArray();
        Assert.Equal([id], list.Select(i => (string?)i!["instanceId"]));
        Assert.Matches($@"(?m)^{id}\s+RunSandbox\s+Completed\s+completed", (await host.KwfAsync("wf", "list", "--prefix", "RunSandbox:sb-hist:")).Expect(ExitCodes.Ok).Out);
        Assert.Equal("no runs\n", (await host.KwfAsync("wf", "list", "--prefix", "RunSandbox:sb-hist:", "--status", "Failed")).Expect(ExitCodes.Ok).Out);

        var show = (await host.KwfAsync("--json", "wf", "show", id)).Expect(ExitCodes.Ok).Json;
        Assert.Equal(("RunSandbox", "Completed", "completed"), ((string?)show["name"], (string?)show["status"], (string?)show["outcome"]));
        Assert.Equal("Running", (string?)show["output"]!["sandbox"]!["state"]);
        Assert.Equal("sb-hist", (string?)show["tags"]!["sandbox"]);
        Assert.Matches(@"(?m)^status\s+Completed$", (await host.KwfAsync("wf", "show", id, "--wait")).Expect(ExitCodes.Ok).Out);

        var history = (await host.KwfAsync("wf", "history", id)).Expect(ExitCodes.Ok).Out;
        Assert.Matches(@"(?m)^\d+\s+\d\d:\d\d:\d\d\.\d{3}\s+ExecutionStarted\s+RunSandbox", history);
        Assert.Matches(@"(?m)^\d+\s+\S+\s+TaskCompleted\s+sandbox\.startVM\s+[\d.]+ (ms|s)\s", history);
        Assert.Matches(@"(?m)^\d+\s+\S+\s+ExecutionCompleted\s+Completed\s+[\d.]+ (ms|s)\s", history);
        Assert.DoesNotContain("OrchestratorStarted", history, StringComparison.Ordinal);
        Assert.Contains("OrchestratorStarted", (await host.KwfAsync("wf", "history", id, "--all")).Expect(ExitCodes.Ok).Out, StringComparison.Ordinal);

        var events = (await host.KwfAsync("--json", "wf", "history", id)).Expect(ExitCodes.Ok).Json["events"]!.AsArray();
        var steps = events.Where(e => (string?)e!["type"] == "TaskCompleted").Select(e => (string?)e!["name"]).ToList();
        Assert.Equal(["sandbox.createNetwork", "sandbox.startVM", "sandbox.getGuestDetails", "sandbox.createContainers", "sandbox.storeSandbox", "container.start", "sandbox.storeSandbox"], steps);
        Assert.All(events.Where(e => (string?)e!["type"] == "TaskCompleted"), e => Assert.True((double)e!["durationMs"]! >= 0));

        (await host.KwfAsync("wf", "show", "RunSandbox:sb-hist:nope")).Expect(ExitCodes.NotFound);
        (await host.KwfAsync("wf", "history", "RunSandbox:sb-hist:nope")).Expect(ExitCodes.NotFound);
    }

    [Fact]
    public async Task History_of_a_compensated_run_marks_the_undo_steps_and_show_says_compensated()
    {
        // createContainers fails in this sandbox (the fixture's fault rule).
        var failed = (await host.KwfAsync(["--json", "--request-id", "undo-1", "sandbox", "run", .. HostFixture.MockSandbox(HostFixture.FailingSandbox, "c1")])).Expect(ExitCodes.RunFailed).Json;
        var id = (string)failed["instanceId"]!;
        Assert.Equal("compensated", (string?)failed["outcome"]);
        Assert.Contains(failed["steps"]!.AsArray(), s => (string?)s!["kind"] == "compensation_completed" && (string?)s["name"] == "sandbox.stopVM");

        var show = (await host.KwfAsync("wf", "show", id, "--wait")).Expect(ExitCodes.RunFailed).Out;
        Assert.Matches(@"(?m)^outcome\s+compensated$", show);
        var history = (await host.KwfAsync("wf", "history", id)).Expect(ExitCodes.Ok).Out;
        Assert.Matches(@"(?m)TaskFailed\s+sandbox\.createContainers\s+.*FAILED ", history);
        Assert.Matches(@"(?m)TaskScheduled \(undo\)\s+sandbox\.stopVM", history);
        Assert.Matches(@"(?m)TaskScheduled \(undo\)\s+sandbox\.removeNetwork", history);
    }

    [Fact]
    public async Task Export_writes_a_history_document_that_replays_deterministically_and_diverges_against_changed_code()
    {
        (await host.KwfAsync(["sandbox", "run", .. HostFixture.MockSandbox("sb-replay", "c1")])).Expect(ExitCodes.Ok);
        var exec = (await host.KwfAsync("--json", "container", "exec", "sb-replay", "c1", "--", "/bin/true")).Expect(ExitCodes.Ok).Json;
        var id = (string)exec["instanceId"]!;
        var file = Path.Combine(host.Directory, "exec-history.json");

        var export = (await host.KwfAsync("wf", "export", id, "-o", file)).Expect(ExitCodes.Ok);
        Assert.Contains($"to {file}", export.Err, StringComparison.Ordinal);
        var document = HistoryDocument.Parse(await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken));
        Assert.Equal((id, "EnterContainer", "Completed"), (document.InstanceId, document.Name, document.Status));
        var stdout = (await host.KwfAsync("wf", "export", id)).Expect(ExitCodes.Ok).Out;
        Assert.Equal(document.Events, HistoryDocument.Parse(stdout).Events);

        // Against the code kwf was built with: every event replays.
        var same = (await host.KwfAsync("--json", "wf", "replay", file)).Expect(ExitCodes.Ok).Json;
        Assert.Equal(true, (bool?)same["deterministic"]);
        Assert.Equal(document.Events.Count, (int)same["eventsReplayed"]!);

        // Against a candidate build loaded from another assembly: unchanged code replays, changed code diverges exactly
        // where the recorded exec step was scheduled.
        (await host.KwfAsync("wf", "replay", file, "--assembly", Artifacts.ReplayCandidate, "--module", "Unchanged")).Expect(ExitCodes.Ok);
        var changed = (await host.KwfAsync("--json", "wf", "replay", file, "--assembly", Artifacts.ReplayCandidate, "--module", "ChangedExec")).Expect(ExitCodes.Diverged).Json;
        var execIndex = document.Events.ToList().FindIndex(e => e.TaskScheduled?.Name == "container.exec");
        Assert.True(execIndex > 0);
        Assert.Equal(false, (bool?)changed["deterministic"]);
        Assert.Equal(execIndex, (int)changed["eventIndex"]!);
        Assert.Contains("'container.exec'", (string?)changed["recorded"], StringComparison.Ordinal);
        Assert.Contains("'container.healthCheck'", (string?)changed["produced"], StringComparison.Ordinal);

        var human = (await host.KwfAsync("wf", "replay", file, "--assembly", Artifacts.ReplayCandidate, "--module", "CandidateOrchestrations.ChangedExec")).Expect(ExitCodes.Diverged).Out;
        Assert.Contains($"at event #{execIndex} of {document.Events.Count}", human, StringComparison.Ordinal);
        Assert.Contains("recorded: TaskScheduled", human, StringComparison.Ordinal);
        Assert.Contains("new code: ScheduleTask", human, StringComparison.Ordinal);

        // A candidate that does not register the history's orchestration is a usage error, not a silent pass.
        var runFile = Path.Combine(host.Directory, "run-history.json");
        var runId = (string)(await host.KwfAsync("--json", "wf", "list", "--prefix", "RunSandbox:sb-replay:")).Expect(ExitCodes.Ok).Json[0]!["instanceId"]!;
        (await host.KwfAsync("wf", "export", runId, "--output", runFile)).Expect(ExitCodes.Ok);
        (await host.KwfAsync("wf", "replay", runFile)).Expect(ExitCodes.Ok);
        var missing = (await host.KwfAsync("wf", "replay", runFile, "--assembly", Artifacts.ReplayCandidate, "--module", "ChangedExec")).Expect(ExitCodes.Usage);
        Assert.Contains("does not register", missing.Err, StringComparison.Ordinal);
        (await KwfProcess.RunWithAsync(host.Socket, await File.ReadAllTextAsync(runFile, TestContext.Current.CancellationToken), null, "wf", "replay", "-")).Expect(ExitCodes.Ok);
    }

    [Fact]
    public async Task Suspend_resume_raise_terminate_restart_and_purge_control_runs()
    {
        (await host.KwfAsync(["sandbox", "run", .. HostFixture.MockSandbox(HostFixture.HangingSandbox, "c1")])).Expect(ExitCodes.Ok);

        // Exec hangs in this sandbox: the run stays in progress while it is controlled.
        var started = (await host.KwfAsync("--no-wait", "--request-id", "hang-1", "container", "exec", HostFixture.HangingSandbox, "c1", "--", "/bin/sleep", "1000")).Expect(ExitCodes.Ok);
        var id = started.Out.Trim();
        Assert.Equal($"EnterContainer:{HostFixture.HangingSandbox}:hang-1", id);
        var timedOut = (await host.KwfAsync("wf", "show", id, "--wait", "--timeout", "1s")).Expect(ExitCodes.Timeout);
        Assert.Contains("timed out after 1s", timedOut.Err, StringComparison.Ordinal);

        Assert.Contains("is Suspended", (await host.KwfAsync("wf", "suspend", id, "--reason", "maintenance")).Expect(ExitCodes.Ok).Out, StringComparison.Ordinal);
        Assert.Contains("is Running", (await host.KwfAsync("wf", "resume", id, "--reason", "done")).Expect(ExitCodes.Ok).Out, StringComparison.Ordinal);
        Assert.Equal(true, (bool?)(await host.KwfAsync("--json", "wf", "raise", id, "poke", "--data", """{"n":1}""")).Expect(ExitCodes.Ok).Json["raised"]);

        // A running run cannot be purged; a terminated one can.
        (await host.KwfAsync("wf", "purge", id)).Expect(ExitCodes.FailedPrecondition);
        var terminated = (await host.KwfAsync("--json", "wf", "terminate", id, "--reason", "stuck")).Expect(ExitCodes.Ok).Json;
        Assert.Equal(("Terminated", "terminated"), ((string?)terminated["status"], (string?)terminated["outcome"]));
        (await host.KwfAsync("wf", "show", id, "--wait")).Expect(ExitCodes.RunFailed);

        var history = (await host.KwfAsync("wf", "history", id)).Expect(ExitCodes.Ok).Out;
        foreach (var type in new[] { "ExecutionSuspended", "ExecutionResumed", "EventRaised", "ExecutionTerminated" })
        {
            Assert.Contains(type, history, StringComparison.Ordinal);
        }

        Assert.Equal("purged 1 run(s)\n", (await host.KwfAsync("wf", "purge", id)).Expect(ExitCodes.Ok).Out);
        (await host.KwfAsync("wf", "show", id)).Expect(ExitCodes.NotFound);
        (await host.KwfAsync("wf", "purge", id)).Expect(ExitCodes.NotFound);
        (await host.KwfAsync("wf", "terminate", id)).Expect(ExitCodes.NotFound);

        // Restart runs a finished run again with its input, under a new id.
        var status = (await host.KwfAsync("--json", "--request-id", "st-1", "sandbox", "stop", HostFixture.HangingSandbox, "--force")).Expect(ExitCodes.Ok).Json;
        var restarted = (await host.KwfAsync("--json", "wf", "restart", (string)status["instanceId"]!, "--new-id")).Expect(ExitCodes.Ok).Json;
        Assert.NotEqual((string?)status["instanceId"], (string?)restarted["instanceId"]);
        Assert.Equal("StopSandbox", (string?)restarted["name"]);
        Assert.True((string?)restarted["status"] is "Completed" or "Failed", restarted.ToJsonString());

        var purgedByFilter = (await host.KwfAsync("--json", "wf", "purge", "--status", "Terminated")).Expect(ExitCodes.Ok).Json;
        // The only terminated run of this class was purged by id above.
        Assert.Equal(0, (int)purgedByFilter["deleted"]!);
    }
}
