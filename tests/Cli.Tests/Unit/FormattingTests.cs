using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using KataWorkflows.Cli.Output;
using KataWorkflows.Protocol.V1;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Cli.Tests.Unit;

public sealed class FormattingTests
{
    private static readonly DateTime T0 = new(2026, 11, 23, 17, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void Table_pads_columns_to_the_widest_cell_and_upper_cases_headers()
    {
        var text = new Table("id", "state").Add("sandbox-1", "running").Add("s2", null).ToString();
        Assert.Equal("ID         STATE\nsandbox-1  running\ns2         -\n", text);
    }

    [Fact]
    public void Table_keeps_each_row_on_one_line_and_refuses_extra_cells()
    {
        var text = new Table("a", "b").Add("x", "line one\nline two").ToString();
        Assert.Equal(2, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Throws<ArgumentException>(() => new Table("a").Add("1", "2"));
    }

    [Fact]
    public void Json_arrays_of_objects_become_tables_and_objects_flatten_to_keys()
    {
        var rows = JsonText.Human(JsonNode.Parse("""[{"pid":1,"cmd":"init"},{"pid":42,"cmd":"sh","user":"root"}]"""));
        Assert.Equal("PID  CMD   USER\n1    init  -\n42   sh    root\n", rows);

        var flat = JsonText.Human(JsonNode.Parse("""{"cpu":{"usage":12.5},"nets":[{"name":"eth0"}]}"""));
        Assert.Contains("cpu.usage     12.5", flat, StringComparison.Ordinal);
        Assert.Contains("nets[0].name  eth0", flat, StringComparison.Ordinal);
        Assert.Equal("(none)\n", JsonText.Human(new JsonArray()));
    }

    [Theory]
    [InlineData(0.4, "0.4 ms")]
    [InlineData(850, "850 ms")]
    [InlineData(1250, "1.25 s")]
    [InlineData(185_000, "3m05s")]
    public void Durations_read_like_a_person_would_write_them(double ms, string text) =>
        Assert.Equal(text, JsonText.Duration(TimeSpan.FromMilliseconds(ms)));

    [Fact]
    public void Sandbox_status_shows_the_sandbox_then_its_containers()
    {
        var text = SandboxView.Status(JsonNode.Parse("""
            {"id":"sb1","state":"running","hypervisor":"mock","agent":"noop","containers":[{"id":"c1","state":"running","pid":7}]}
            """));
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("SANDBOX", lines[0], StringComparison.Ordinal);
        Assert.Matches(@"^sb1\s+running\s+mock\s+noop\s+c1", lines[1]);
        Assert.StartsWith("CONTAINER", lines[2], StringComparison.Ordinal);
        Assert.Matches(@"^c1\s+running\s+7", lines[3]);
    }

    [Fact]
    public void Run_events_show_steps_with_durations_and_mark_compensations()
    {
        RunEvent E(string kind, string name, double ms = 0, string detail = "") =>
            new() { Kind = kind, Name = name, DurationMs = ms, Detail = detail, Time = Timestamp.FromDateTime(T0) };

        Assert.Equal("17:00:00.000    >    sandbox.startVM", RunEventView.Line(E("step_started", "sandbox.startVM")));
        Assert.Equal("17:00:00.000    ok   sandbox.startVM (12.5 ms)", RunEventView.Line(E("step_completed", "sandbox.startVM", 12.5)));
        Assert.Equal("17:00:00.000    FAIL sandbox.startVM (3 ms): boom", RunEventView.Line(E("step_failed", "sandbox.startVM", 3, "boom")));
        Assert.Contains("undo sandbox.removeNetwork (4 ms)  [compensation]", RunEventView.Line(E("compensation_completed", "sandbox.removeNetwork", 4)), StringComparison.Ordinal);
        Assert.True(RunEventView.IsFinal(E("run_failed", string.Empty)));
        Assert.False(RunEventView.IsFinal(E("step_failed", "x")));
        Assert.Equal(true, (bool?)RunEventView.ToJson(E("compensation_started", "sandbox.stopVM"))["compensation"]);
    }

    [Fact]
    public void History_rows_pair_ends_with_starts_for_names_and_durations_and_mark_undo_steps()
    {
        HistoryEvent At(int seconds, int eventId, Action<HistoryEvent> set)
        {
            var e = new HistoryEvent { EventId = eventId, Timestamp = Timestamp.FromDateTime(T0.AddSeconds(seconds)) };
            set(e);
            return e;
        }

        var failure = new Microsoft.DurableTask.Protobuf.TaskFailureDetails { ErrorType = "X.InjectedFaultException", ErrorMessage = "boom" };
        var events = new List<HistoryEvent>
        {
            At(0, -1, e => e.ExecutionStarted = new ExecutionStartedEvent { Name = "CreateSandbox", Input = "{}" }),
            At(0, 0, e => e.TaskScheduled = new TaskScheduledEvent { Name = "sandbox.createNetwork" }),
            At(1, -1, e => e.TaskCompleted = new TaskCompletedEvent { TaskScheduledId = 0, Result = "true" }),
            At(1, 1, e => e.TaskScheduled = new TaskScheduledEvent { Name = "sandbox.startVM" }),
            At(3, -1, e => e.TaskFailed = new TaskFailedEvent { TaskScheduledId = 1, FailureDetails = failure }),
            At(3, 2, e => e.TaskScheduled = new TaskScheduledEvent { Name = "sandbox.removeNetwork" }),
            At(4, -1, e => e.TaskCompleted = new TaskCompletedEvent { TaskScheduledId = 2 }),
            At(4, 3, e => e.TimerCreated = new TimerCreatedEvent { FireAt = Timestamp.FromDateTime(T0.AddSeconds(6)) }),
            At(6, -1, e => e.TimerFired = new TimerFiredEvent { TimerId = 3 }),
            At(6, -1, e => e.ExecutionCompleted = new ExecutionCompletedEvent { OrchestrationStatus = OrchestrationStatus.Failed, FailureDetails = failure }),
        };

        var rows = HistoryView.Rows(events);

        Assert.Equal(("sandbox.createNetwork", TimeSpan.FromSeconds(1), false), (rows[2].Name, rows[2].Duration, rows[2].Failed));
        Assert.Equal(("sandbox.startVM", TimeSpan.FromSeconds(2), true), (rows[4].Name, rows[4].Duration, rows[4].Failed));
        Assert.Equal("InjectedFaultException: boom", rows[4].Result);
        Assert.False(rows[3].Compensation);
        Assert.True(rows[5].Compensation);
        Assert.Equal(("sandbox.removeNetwork", true), (rows[6].Name, rows[6].Compensation));
        Assert.Equal(TimeSpan.FromSeconds(2), rows[8].Duration);
        Assert.Equal(("Failed", TimeSpan.FromSeconds(6)), (rows[9].Name, rows[9].Duration));

        var table = HistoryView.Table(rows, all: false).ToString();
        Assert.Contains("TaskScheduled (undo)", table, StringComparison.Ordinal);
        Assert.Contains("FAILED InjectedFaultException: boom", table, StringComparison.Ordinal);
        var json = HistoryView.ToJson(rows);
        Assert.Equal(2000, (double)json[4]!["durationMs"]!);
        Assert.Equal("2026-11-23T17:00:03.000Z", (string?)json[4]!["time"]);
    }

    [Fact]
    public void Instance_outcome_tells_compensated_from_failed()
    {
        var compensated = new OrchestrationState
        {
            OrchestrationStatus = OrchestrationStatus.Failed,
            FailureDetails = new Microsoft.DurableTask.Protobuf.TaskFailureDetails
            {
                ErrorType = typeof(Orchestrations.Model.SandboxOperationCompensatedException).FullName,
                ErrorMessage = "undone",
            },
        };
        Assert.Equal("compensated", InstanceView.Outcome(compensated));
        Assert.Equal("failed", InstanceView.Outcome(new OrchestrationState { OrchestrationStatus = OrchestrationStatus.Failed }));
        Assert.Equal("completed", InstanceView.Outcome(new OrchestrationState { OrchestrationStatus = OrchestrationStatus.Completed }));
        Assert.Equal("in progress", InstanceView.Outcome(new OrchestrationState { OrchestrationStatus = OrchestrationStatus.Running }));
        Assert.Equal(OrchestrationStatus.Terminated, InstanceView.ParseStatus("terminated"));
    }
}
