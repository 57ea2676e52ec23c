using System.Globalization;
using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Cli.Output;

/// <summary>How an orchestration instance is shown: status names, the outcome, one row, the detail view, JSON.</summary>
public static class InstanceView
{
    /// <summary>The short status name (<c>Running</c>, <c>Completed</c>...).</summary>
    public static string StatusName(OrchestrationStatus status) => status.ToString();

    /// <summary>Reads a status name as <c>kwf wf list --status</c> takes it (case-insensitive).</summary>
    /// <exception cref="CliException">A usage error listing the names.</exception>
    public static OrchestrationStatus ParseStatus(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var status in System.Enum.GetValues<OrchestrationStatus>())
        {
            if (string.Equals(StatusName(status), text.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                return status;
            }
        }

        throw CliException.Usage(
            $"--status: unknown status '{text}' (expected one of {string.Join(", ", System.Enum.GetValues<OrchestrationStatus>().Select(StatusName))})");
    }

    /// <summary>
    /// What happened to the run, in the domain's words: <c>completed</c>, <c>compensated</c> (failed, and its steps
    /// were undone), <c>failed</c>, <c>terminated</c>, or <c>in progress</c> for a run not yet finished.
    /// </summary>
    public static string Outcome(OrchestrationState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return state.OrchestrationStatus switch
        {
            OrchestrationStatus.Completed => "completed",
            OrchestrationStatus.Failed => ErrorMapping.IsCompensated(state.FailureDetails) ? "compensated" : "failed",
            OrchestrationStatus.Terminated or OrchestrationStatus.Canceled => "terminated",
            OrchestrationStatus.Suspended => "suspended",
            OrchestrationStatus.ContinuedAsNew => "continued as new",
            _ => "in progress",
        };
    }

    /// <summary>A timestamp as UTC ISO-8601 with milliseconds; null when unset.</summary>
    public static string? Time(Timestamp? timestamp) =>
        timestamp is null || (timestamp.Seconds == 0 && timestamp.Nanos == 0)
            ? null
            : timestamp.ToDateTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>A failure as one line: <c>Type: message</c>, with its causes.</summary>
    public static string? Failure(TaskFailureDetails? failure)
    {
        if (failure is null)
        {
            return null;
        }

        var text = $"{ShortType(failure.ErrorType)}: {failure.ErrorMessage}";
        return failure.InnerFailure is null ? text : $"{text} <- {Failure(failure.InnerFailure)}";
    }

    /// <summary>The last part of a type name (<c>SandboxNotFoundException</c>).</summary>
    public static string ShortType(string type)
    {
        ArgumentNullException.ThrowIfNull(type);
        var dot = type.LastIndexOf('.');
        return dot < 0 ? type : type[(dot + 1)..];
    }

    /// <summary>The table of <c>kwf wf list</c>.</summary>
    public static Table ListTable(IEnumerable<OrchestrationState> states)
    {
        ArgumentNullException.ThrowIfNull(states);
        var table = new Table("instance", "name", "status", "outcome", "created", "updated");
        foreach (var s in states)
        {
            table.Add(s.InstanceId, s.Name, StatusName(s.OrchestrationStatus), Outcome(s), Time(s.CreatedTimestamp), Time(s.LastUpdatedTimestamp));
        }

        return table;
    }

    /// <summary>The detail view of <c>kwf wf show</c>.</summary>
    public static string Detail(OrchestrationState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var table = new Table("field", "value");
        table.Add("instance", state.InstanceId);
        table.Add("name", state.Name);
        table.Add("status", StatusName(state.OrchestrationStatus));
        table.Add("outcome", Outcome(state));
        table.Add("execution", state.ExecutionId);
        table.Add("created", Time(state.CreatedTimestamp));
        table.Add("updated", Time(state.LastUpdatedTimestamp));
        if (Time(state.CompletedTimestamp) is { } completed)
        {
            table.Add("completed", completed);
        }

        if (state.CustomStatus is not null)
        {
            table.Add("custom status", JsonText.Shorten(state.CustomStatus, 200));
        }

        if (state.Input is not null)
        {
            table.Add("input", JsonText.Shorten(state.Input, 200));
        }

        if (state.Output is not null)
        {
            table.Add("output", JsonText.Shorten(state.Output, 200));
        }

        if (Failure(state.FailureDetails) is { } failure)
        {
            table.Add("failure", failure);
        }

        foreach (var (key, value) in state.Tags.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            table.Add($"tag {key}", value);
        }

        // The header row of a key/value view says nothing: drop it.
        var text = table.ToString();
        return text[(text.IndexOf('\n', StringComparison.Ordinal) + 1)..];
    }

    /// <summary>The JSON form of an instance.</summary>
    public static JsonObject ToJson(OrchestrationState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var obj = JsonText.Obj(
            ("instanceId", state.InstanceId),
            ("name", state.Name),
            ("status", StatusName(state.OrchestrationStatus)),
            ("outcome", Outcome(state)),
            ("executionId", state.ExecutionId),
            ("createdAt", Time(state.CreatedTimestamp)),
            ("lastUpdatedAt", Time(state.LastUpdatedTimestamp)),
            ("completedAt", Time(state.CompletedTimestamp)),
            ("input", JsonText.ParseOrString(state.Input)),
            ("output", JsonText.ParseOrString(state.Output)),
            ("customStatus", JsonText.ParseOrString(state.CustomStatus)),
            ("failure", FailureJson(state.FailureDetails)));
        if (state.Tags.Count > 0)
        {
            var tags = new JsonObject();
            foreach (var (key, value) in state.Tags.OrderBy(t => t.Key, StringComparer.Ordinal))
            {
                tags[key] = value;
            }

            obj["tags"] = tags;
        }

        return obj;
    }

    /// <summary>A failure as JSON (type, message, cause), or null.</summary>
    public static JsonObject? FailureJson(TaskFailureDetails? failure) => failure is null
        ? null
        : JsonText.Obj(("type", failure.ErrorType), ("message", failure.ErrorMessage), ("cause", FailureJson(failure.InnerFailure)));
}
