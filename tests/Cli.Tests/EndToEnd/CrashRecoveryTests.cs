using KataWorkflows.Cli.Tests.Harness;

namespace KataWorkflows.Cli.Tests.EndToEnd;

/// <summary>
/// The host is killed with SIGKILL while a run that kwf started is in flight; a new host on the same state directory
/// finishes it, and kwf sees the outcome.
/// </summary>
public sealed class CrashRecoveryTests
{
    [Fact]
    public async Task Run_in_flight_when_the_host_is_killed_completes_after_a_restart()
    {
        var dir = Directory.CreateTempSubdirectory("kwf-crash-").FullName;
        try
        {
            const string sandbox = "sb-crash";
            const string id = $"RunSandbox:{sandbox}:crash-1";
            var host = await HostProcess.StartAsync(dir, $"sandbox.startVM:hang:0:before:sandbox={sandbox}");
            KwfResult following;
            await using (host)
            {
                // kwf follows the run live; when it shows startVM started (and hanging), the host dies.
                var inFlight = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var follow = KwfProcess.RunWithAsync(host.Socket, null, line =>
                {
                    if (line.EndsWith(">    sandbox.startVM", StringComparison.Ordinal))
                    {
                        inFlight.TrySetResult();
                    }
                }, ["--request-id", "crash-1", "sandbox", "run", .. HostFixture.MockSandbox(sandbox, "c1")]);
                await inFlight.Task.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
                var running = (await KwfProcess.RunAsync(host.Socket, "--json", "wf", "show", id)).Expect(ExitCodes.Ok).Json;
                Assert.Equal("Running", (string?)running["status"]);

                await host.KillAsync();
                following = await follow;
            }

            // The CLI that was following lost its host: a connection error, not a made-up outcome.
            Assert.True(following.Exit is ExitCodes.Unavailable or ExitCodes.Error, following.ToString());
            Assert.Contains($"run {id} goes on in the host", following.Err, StringComparison.Ordinal);
            Assert.Contains("ok   sandbox.createNetwork", following.Out, StringComparison.Ordinal);
            Assert.DoesNotContain("run completed", following.Out, StringComparison.Ordinal);

            // A new host on the same store, without the fault: the run resumes where it stopped.
            await using var restarted = await HostProcess.StartAsync(dir);
            var waited = (await KwfProcess.RunAsync(restarted.Socket, "wf", "show", id, "--wait", "--timeout", "60s")).Expect(ExitCodes.Ok);
            Assert.Matches(@"(?m)^outcome\s+completed$", waited.Out);
            var shown = (await KwfProcess.RunAsync(restarted.Socket, "--json", "wf", "show", id)).Expect(ExitCodes.Ok).Json;
            Assert.Equal(("Completed", "completed"), ((string?)shown["status"], (string?)shown["outcome"]));
            Assert.Equal("Running", (string?)shown["output"]!["sandbox"]!["state"]);
            Assert.Matches(@"(?m)^sb-crash\s+Running", (await KwfProcess.RunAsync(restarted.Socket, "sandbox", "status", sandbox)).Expect(ExitCodes.Ok).Out);

            // createNetwork completed before the kill and is not run again: it appears once in the history.
            var history = (await KwfProcess.RunAsync(restarted.Socket, "--json", "wf", "history", id)).Expect(ExitCodes.Ok).Json["events"]!.AsArray();
            Assert.Single(history, e => (string?)e!["type"] == "TaskScheduled" && (string?)e["name"] == "sandbox.createNetwork");
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // Left to the temp cleaner.
            }
        }
    }

    [Fact]
    public async Task Run_in_flight_when_the_host_is_killed_is_compensated_when_the_step_then_fails()
    {
        var dir = Directory.CreateTempSubdirectory("kwf-crash-").FullName;
        try
        {
            const string sandbox = "sb-crash-undo";
            var host = await HostProcess.StartAsync(dir, $"sandbox.createContainers:hang:0:before:sandbox={sandbox}");
            string id;
            await using (host)
            {
                id = (await KwfProcess.RunAsync(host.Socket, ["--no-wait", "sandbox", "create", .. HostFixture.MockSandbox(sandbox, "c1")])).Expect(ExitCodes.Ok).Out.Trim();
                await WaitForStepAsync(host.Socket, id, "sandbox.createContainers");
                await host.KillAsync();
            }

            // After the restart the step that was in flight runs again and fails: what was done is undone.
            await using var restarted = await HostProcess.StartAsync(dir, $"sandbox.createContainers:fail:0:before:sandbox={sandbox}");
            var waited = (await KwfProcess.RunAsync(restarted.Socket, "wf", "show", id, "--wait", "--timeout", "60s")).Expect(ExitCodes.RunFailed);
            Assert.Matches(@"(?m)^outcome\s+compensated$", waited.Out);
            (await KwfProcess.RunAsync(restarted.Socket, "sandbox", "status", sandbox)).Expect(ExitCodes.NotFound);
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // Left to the temp cleaner.
            }
        }
    }

    private static async Task WaitForStepAsync(string socket, string id, string step)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(60));
        while (true)
        {
            var history = (await KwfProcess.RunAsync(socket, "--json", "wf", "history", id)).Expect(ExitCodes.Ok).Json["events"]!.AsArray();
            if (history.Any(e => (string?)e!["type"] == "TaskScheduled" && (string?)e["name"] == step))
            {
                return;
            }

            await Task.Delay(200, limit.Token);
        }
    }
}
