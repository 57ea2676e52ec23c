using System.Text.Json.Nodes;
using KataWorkflows.Engine;
using KataWorkflows.WebConsole.Tests.Harness;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.WebConsole.Tests;

/// <summary>A run with over 2,000 history events: its page draws the timeline and the history without freezing.</summary>
public sealed class LargeRunTests
{
    /// <summary>The longest the page may be busy in one task (a longer one is a visible freeze).</summary>
    private const double MaxLongTaskMs = 1000;

    /// <summary>How long the whole page may take to show the run, timeline and history included.</summary>
    private const double MaxRenderMs = 8000;

    [Fact]
    public async Task A_run_with_two_thousand_events_renders_its_timeline_and_history_without_a_long_freeze()
    {
        Browser.RequireParts();
        await using var host = await ConsoleHost.StartAsync(withLongRun: true);
        var started = await host.Sidecar.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "long-run", Name = ConsoleHost.LongRun, Input = "100" }, cancellationToken: TestContext.Current.CancellationToken);
        // 100 rounds of 10 activities: 2,000 task events whatever the episodes (how many completions each episode takes
        // in depends on timing, so fewer rounds gave from 1,600 to 2,200 events).
        await host.WaitForStatusAsync(started.InstanceId, OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed);
        var events = await host.Store.GetHistoryAsync(started.InstanceId, null, TestContext.Current.CancellationToken);
        Assert.True(events.Count >= 2000, $"the run has {events.Count} events");

        await using var browser = await Browser.LaunchAsync();
        await browser.AddInitScriptAsync("""
            window.kwfLongTasks = [];
            new PerformanceObserver(list => window.kwfLongTasks.push(...list.getEntries().map(e => e.duration))).observe({ type: "longtask" });
            """);
        await browser.GotoAsync(host.RunPage(started.InstanceId));
        var shown = (JsonObject)(await browser.WaitForAsync(
            $"document.querySelector('#timeline')?.dataset.bars === '1000' && document.querySelectorAll('#history tr.ev').length === {events.Count} && document.querySelectorAll('#timeline .vis-item.kwf').length > 0"
                + " && { renderedMs: performance.now(), longTasks: window.kwfLongTasks, items: document.querySelectorAll('#timeline .vis-item.kwf').length,"
                + " phases: performance.getEntriesByType('measure').map(m => m.name + ' ' + Math.round(m.duration) + ' ms').join(', ') }",
            timeoutMs: 30_000))!;

        var longTasks = ((JsonArray)shown["longTasks"]!).Select(t => (double)t!).ToList();
        var rendered = (double)shown["renderedMs"]!;
        var longest = longTasks.DefaultIfEmpty(0).Max();
        TestContext.Current.TestOutputHelper?.WriteLine($"{events.Count} events, 1000 bars: shown after {rendered:0} ms, longest task {longest:0} ms, {longTasks.Count} long tasks, {shown["items"]} bars drawn; {shown["phases"]}");
        Assert.True(longest < MaxLongTaskMs, $"the page was busy for {longest:0} ms in one task ({shown["phases"]}; long tasks: {string.Join(", ", longTasks.Select(t => t.ToString("0", System.Globalization.CultureInfo.InvariantCulture)))})");
        Assert.True(rendered < MaxRenderMs, $"the page took {rendered:0} ms to show the run");
        Assert.Empty(await browser.ErrorsAsync());
    }
}
