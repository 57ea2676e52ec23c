using System.Text.Json.Nodes;
using KataWorkflows.Engine;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.WebConsole.Tests.Harness;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.WebConsole.Tests;

/// <summary>
/// The console in headless Chromium against the real host: what a person debugging a failed run sees. With
/// <c>KATA_WRITE_SCREENSHOTS=1</c> the tests also write the screenshots docs/web-console.md shows into docs/images/.
/// </summary>
public sealed class BrowserTests : IAsyncLifetime
{
    private const string ScreenshotSwitch = "KATA_WRITE_SCREENSHOTS";

    // Each forward step of a create and the compensation that undoes it (SandboxSession.Sandbox.cs registers them).
    private static readonly Dictionary<string, string> Undoes = new()
    {
        [SandboxActivities.CreateNetwork] = SandboxActivities.RemoveNetwork,
        [SandboxActivities.StartVm] = SandboxActivities.StopVm,
        [SandboxActivities.CreateContainers] = SandboxActivities.DeleteContainers,
        [SandboxActivities.StoreSandbox] = SandboxActivities.RemoveSandboxStore,
    };

    private ConsoleHost _host = null!;
    private Browser _browser = null!;

    public async ValueTask InitializeAsync()
    {
        Browser.RequireParts();
        _host = await ConsoleHost.StartAsync();
        _browser = await Browser.LaunchAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_runs_page_lists_a_compensated_run_and_filters_by_sandbox()
    {
        var good = await _host.CallAsync("RunSandbox", "sb-ok", ConsoleHost.Create("sb-ok", "web"));
        var undone = await _host.CallAsync("CreateSandbox", ConsoleHost.FailingSandbox, ConsoleHost.Create(ConsoleHost.FailingSandbox, "c1"));

        Assert.Equal(200, await _browser.GotoAsync(new Uri(_host.Url, "/runs").AbsoluteUri));
        var outcome = await _browser.WaitForAsync($"document.querySelector('tr[data-instance=\"{undone}\"] td:nth-child(4)')?.textContent");
        Assert.Equal("compensated", (string?)outcome);
        Assert.Equal("Failed", (string?)await _browser.EvaluateAsync($"document.querySelector('tr[data-instance=\"{undone}\"] td:nth-child(3)').textContent"));
        Assert.NotNull(await _browser.EvaluateAsync($"document.querySelector('tr[data-instance=\"{good}\"]')?.textContent"));
        await ScreenshotAsync("web-console-runs.png");

        await _browser.FillAsync("input[name=sandbox]", ConsoleHost.FailingSandbox);
        await _browser.ClickAsync("#filters button[type=submit]");
        await _browser.WaitForAsync($"!document.querySelector('tr[data-instance=\"{good}\"]') && !!document.querySelector('tr[data-instance=\"{undone}\"]')");
        Assert.Equal($"?sandbox={ConsoleHost.FailingSandbox}", (string?)await _browser.EvaluateAsync("location.search"));
        Assert.Empty(await _browser.ErrorsAsync());
    }

    [Fact]
    public async Task A_compensated_runs_timeline_shows_the_steps_then_their_undos_in_reverse_and_marks_the_failed_step()
    {
        var undone = await _host.CallAsync("CreateSandbox", ConsoleHost.FailingSandbox, ConsoleHost.Create(ConsoleHost.FailingSandbox, "c1"));

        await _browser.GotoAsync(_host.RunPage(undone));
        await _browser.WaitForAsync("document.querySelectorAll('#timeline .vis-item.kwf').length > 0 && document.querySelector('#run-status')");
        var bars = (JsonArray)(await _browser.EvaluateAsync("""
            [...document.querySelectorAll('#timeline .vis-item.kwf-activity')].map(e => ({
              name: e.querySelector('[data-bar]').textContent,
              bar: Number(e.querySelector('[data-bar]').dataset.bar),
              left: e.getBoundingClientRect().left,
              compensation: e.classList.contains('kwf-compensation'),
              failed: e.classList.contains('kwf-failed'),
              culprit: e.classList.contains('kwf-culprit'),
            }))
            """))!;
        var forward = Ordered(bars, compensation: false);
        var undos = Ordered(bars, compensation: true);

        Assert.Equal([SandboxActivities.CreateNetwork, SandboxActivities.StartVm, SandboxActivities.GetGuestDetails, SandboxActivities.CreateContainers], forward);
        // Every step that succeeded before the failure is undone, latest first; the record's own removal comes last.
        var expectedUndos = forward.Take(forward.Count - 1).Reverse().Where(Undoes.ContainsKey).Select(s => Undoes[s]).Append(SandboxActivities.RemoveSandboxStore);
        Assert.Equal(expectedUndos, undos);
        var culprit = Assert.Single(bars, b => (bool)b!["culprit"]!)!;
        Assert.Equal(SandboxActivities.CreateContainers, (string?)culprit["name"]);
        Assert.True((bool)culprit["failed"]!);
        Assert.False((bool)culprit["compensation"]!);
        // The failed step stands out: its bar is drawn with a border no other bar has.
        var culpritBorder = (string?)await _browser.EvaluateAsync("getComputedStyle(document.querySelector('#timeline .vis-item.kwf-culprit')).borderTopColor");
        var otherBorders = (JsonArray)(await _browser.EvaluateAsync(
            "[...document.querySelectorAll('#timeline .vis-item.kwf:not(.kwf-culprit)')].map(e => getComputedStyle(e).borderTopColor)"))!;
        Assert.DoesNotContain(culpritBorder, otherBorders.Select(b => (string?)b));
        Assert.Contains("compensated", (string?)await _browser.EvaluateAsync("document.querySelector('#run-head').textContent"));
        Assert.Contains("SandboxOperationCompensatedException", (string?)await _browser.EvaluateAsync("document.querySelector('.failure').textContent"));
        await ScreenshotAsync("web-console-run.png");
        Assert.Empty(await _browser.ErrorsAsync());
    }

    [Fact]
    public async Task The_history_shows_every_event_and_expands_its_payload()
    {
        var undone = await _host.CallAsync("CreateSandbox", ConsoleHost.FailingSandbox, ConsoleHost.Create(ConsoleHost.FailingSandbox, "c1"));
        var events = await _host.Store.GetHistoryAsync(undone, null, TestContext.Current.CancellationToken);

        await _browser.GotoAsync(_host.RunPage(undone));
        await _browser.WaitForAsync($"document.querySelectorAll('#history tr.ev').length === {events.Count}");
        var types = (JsonArray)(await _browser.EvaluateAsync("[...document.querySelectorAll('#history tr.ev td.type')].map(td => td.textContent.replace(' (undo)', ''))"))!;
        Assert.Equal(events.Select(e => e.EventTypeCase.ToString()), types.Select(t => (string)t!));

        var failed = events.Select((e, i) => (e, i)).First(x => x.e.EventTypeCase == HistoryEvent.EventTypeOneofCase.TaskFailed).i;
        await _browser.ClickAsync($"#history tr.ev[data-index=\"{failed}\"]");
        var payload = (string?)await _browser.WaitForAsync($"document.querySelector('#history tr.ev[data-index=\"{failed}\"] + tr.payload pre')?.textContent");
        Assert.Contains("injected fault at sandbox.createContainers", payload);
        Assert.Contains("\"taskFailed\"", payload);
        Assert.True((bool)(await _browser.EvaluateAsync($"document.querySelector('#history tr.ev[data-index=\"{failed}\"]').classList.contains('failed')"))!);
        Assert.Empty(await _browser.ErrorsAsync());
    }

    [Fact]
    public async Task The_export_downloads_the_same_json_as_kwf_wf_export_and_the_replay_is_deterministic()
    {
        var undone = await _host.CallAsync("CreateSandbox", ConsoleHost.FailingSandbox, ConsoleHost.Create(ConsoleHost.FailingSandbox, "c1"));
        var kwf = await _host.KwfAsync(null, "wf", "export", undone);
        Assert.Equal(0, kwf.Exit);

        await _browser.GotoAsync(_host.RunPage(undone));
        await _browser.WaitForAsync("document.querySelector('#run-status')");
        var (fileName, text) = await _browser.DownloadAsync("#export");

        Assert.Equal(kwf.Out, text);
        Assert.EndsWith(".json", fileName, StringComparison.Ordinal);
        await _browser.ClickAsync("#replay");
        var verdict = (string?)await _browser.WaitForAsync("document.querySelector('#verdict.ok, #verdict.bad')?.textContent");
        Assert.StartsWith("deterministic: replays all", verdict, StringComparison.Ordinal);
        Assert.Empty(await _browser.ErrorsAsync());
    }

    [Fact]
    public async Task A_run_in_progress_updates_on_the_runs_page_and_its_own_page_when_it_finishes()
    {
        var first = $"{ConsoleHost.HangingSandbox}-0";
        var onList = await _host.CallAsync("CreateSandbox", first, ConsoleHost.Create(first, "c1"), wait: false);
        await _host.WaitForStatusAsync(onList, OrchestrationRuntimeStatus.Running);

        await _browser.GotoAsync(new Uri(_host.Url, "/runs").AbsoluteUri);
        await _browser.WaitForAsync($"document.querySelector('tr[data-instance=\"{onList}\"] td:nth-child(3)')?.textContent === 'Running'");
        await _browser.EvaluateAsync("window.kwfNoReload = true");
        await _host.Sidecar.TerminateInstanceAsync(new TerminateRequest { InstanceId = onList, Output = "\"stop\"" }, cancellationToken: TestContext.Current.CancellationToken);
        await _browser.WaitForAsync($"document.querySelector('tr[data-instance=\"{onList}\"] td:nth-child(3)')?.textContent === 'Terminated'");
        Assert.True((bool)(await _browser.EvaluateAsync("window.kwfNoReload === true"))!);

        var second = $"{ConsoleHost.HangingSandbox}-1";
        var onPage = await _host.CallAsync("CreateSandbox", second, ConsoleHost.Create(second, "c1"), wait: false);
        await _host.WaitForStatusAsync(onPage, OrchestrationRuntimeStatus.Running);
        await _browser.GotoAsync(_host.RunPage(onPage));
        await _browser.WaitForAsync("document.querySelector('#run-status')?.textContent === 'Running' && document.querySelector('#timeline .vis-item.kwf-running')");
        await _browser.EvaluateAsync("window.kwfNoReload = true");
        await _host.Sidecar.TerminateInstanceAsync(new TerminateRequest { InstanceId = onPage, Output = "\"stop\"" }, cancellationToken: TestContext.Current.CancellationToken);
        await _browser.WaitForAsync("document.querySelector('#run-status')?.textContent === 'Terminated'");
        Assert.True((bool)(await _browser.EvaluateAsync("window.kwfNoReload === true"))!);
        await _browser.WaitForAsync("!document.querySelector('#timeline .vis-item.kwf-running')");
        Assert.Empty(await _browser.ErrorsAsync());
    }

    [Fact]
    public async Task The_sandboxes_page_shows_state_containers_and_the_runs_that_changed_each()
    {
        var run = await _host.CallAsync("RunSandbox", "sb-ok", ConsoleHost.Create("sb-ok", "web", "sidecar"));
        var created = await _host.CallAsync("CreateSandbox", "sb-ready", ConsoleHost.Create("sb-ready", "c1"));
        var hanging = $"{ConsoleHost.HangingSandbox}-2";
        var pending = await _host.CallAsync("CreateSandbox", hanging, ConsoleHost.Create(hanging, "c1"), wait: false);
        await _host.WaitForStatusAsync(pending, OrchestrationRuntimeStatus.Running);

        await _browser.GotoAsync(new Uri(_host.Url, "/sandboxes").AbsoluteUri);
        var row = (string?)await _browser.WaitForAsync("document.querySelector('tr[data-sandbox=\"sb-ok\"]')?.textContent");
        Assert.Contains("running", row);
        Assert.Contains("web: running", row);
        Assert.Contains("sidecar: running", row);
        Assert.Contains(run, row);
        var ready = (string?)await _browser.EvaluateAsync("document.querySelector('tr[data-sandbox=\"sb-ready\"]').textContent");
        Assert.Contains("ready", ready);
        Assert.Contains(created, ready);
        // The hanging create holds the sandbox's lock while its record is not yet written.
        var locked = (string?)await _browser.WaitForAsync($"document.querySelector('tr[data-sandbox=\"{hanging}\"]')?.textContent");
        Assert.Contains("held by " + pending, locked);
        await ScreenshotAsync("web-console-sandboxes.png");
        Assert.Empty(await _browser.ErrorsAsync());
    }

    /// <summary>
    /// The bars of one lane in the order their steps were scheduled (bar numbers follow the history), after checking
    /// that the page draws them in that order from left to right (steps within one millisecond may share a position).
    /// </summary>
    private static List<string> Ordered(JsonArray bars, bool compensation)
    {
        var lane = bars.Where(b => (bool)b!["compensation"]! == compensation).OrderBy(b => (int)b!["bar"]!).ToList();
        var lefts = lane.Select(b => (double)b!["left"]!).ToList();
        Assert.Equal(lefts.Order(), lefts);
        return [.. lane.Select(b => (string)b!["name"]!)];
    }

    private async Task ScreenshotAsync(string name)
    {
        if (Environment.GetEnvironmentVariable(ScreenshotSwitch) != "1")
        {
            return;
        }

        var images = Path.GetFullPath(Path.Combine(Browser.ProjectDirectory, "..", "..", "docs", "images"));
        Directory.CreateDirectory(images);
        await _browser.ScreenshotAsync(Path.Combine(images, name));
    }
}
