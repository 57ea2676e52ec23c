using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using KataWorkflows.Cli.Output;
using KataWorkflows.Cli.Replay;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Serialization;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Cli.Commands;

/// <summary><c>kwf wf ...</c>: workflow runs over the Durable Task sidecar API, and offline replay.</summary>
internal static class WorkflowCommands
{
    // How long suspend and resume wait to see their effect before printing the status as it is.
    private static readonly TimeSpan ControlSettleTime = TimeSpan.FromSeconds(15);

    public static Command Workflow(KwfApp app)
    {
        var command = new Command("wf", "Workflow runs: list, show, history, export, replay, terminate, suspend, resume, restart, purge, raise");
        command.Subcommands.Add(List(app));
        command.Subcommands.Add(Show(app));
        command.Subcommands.Add(History(app));
        command.Subcommands.Add(Export(app));
        command.Subcommands.Add(ReplayCommand(app));
        command.Subcommands.Add(Terminate(app));
        command.Subcommands.Add(SuspendOrResume(app, suspend: true));
        command.Subcommands.Add(SuspendOrResume(app, suspend: false));
        command.Subcommands.Add(Restart(app));
        command.Subcommands.Add(Purge(app));
        command.Subcommands.Add(Raise(app));
        return command;
    }

    private static Command List(KwfApp app)
    {
        var status = new Option<string[]>("--status") { Description = "Only runs with this status (repeat): Running, Completed, Failed, Terminated, Pending, Suspended..." };
        var prefix = new Option<string?>("--prefix") { Description = "Only instance ids starting with this (e.g. RunSandbox:sb1:)" };
        var since = new Option<string?>("--since") { Description = "Only runs created at or after this time (ISO-8601, UTC)" };
        var limit = new Option<int>("--limit") { Description = "At most this many runs", DefaultValueFactory = _ => 100 };
        var command = new Command("list", "Workflow runs, newest page first as the host orders them") { status, prefix, since, limit };
        app.SetAction(command, async inv =>
        {
            var max = inv.Parse.GetValue(limit);
            if (max <= 0)
            {
                throw CliException.Usage($"--limit must be positive, got {max}");
            }

            var query = new InstanceQuery { MaxInstanceCount = Math.Min(max, 500), FetchInputsAndOutputs = false };
            query.RuntimeStatus.AddRange((inv.Parse.GetValue(status) ?? []).Select(InstanceView.ParseStatus));
            if (inv.Parse.GetValue(prefix) is { Length: > 0 } p)
            {
                query.InstanceIdPrefix = p;
            }

            if (inv.Parse.GetValue(since) is { } s)
            {
                query.CreatedTimeFrom = Timestamp.FromDateTime(ParseTime(s, "--since"));
            }

            var states = new List<OrchestrationState>();
            do
            {
                var page = await inv.TaskHub.QueryInstancesAsync(new QueryInstancesRequest { Query = query }, inv.CallOptions).ConfigureAwait(false);
                states.AddRange(page.OrchestrationState);
                query.ContinuationToken = page.ContinuationToken;
            }
            while (query.ContinuationToken is { Length: > 0 } && states.Count < max);

            var shown = states.Take(max).ToList();
            if (inv.Json)
            {
                inv.WriteJson(new JsonArray(shown.Select(s => (JsonNode)InstanceView.ToJson(s)).ToArray()));
            }
            else
            {
                await inv.Out.WriteAsync(shown.Count == 0 ? "no runs\n" : InstanceView.ListTable(shown).ToString()).ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Show(KwfApp app)
    {
        var id = InstanceArgument();
        var wait = new Option<bool>("--wait") { Description = "Wait until the run ends; the exit code then says how it ended (0 completed, 5 failed, compensated or terminated; 2-4 for a refused call)" };
        var command = new Command("show", "A run's status, input, output and failure") { id, wait };
        app.SetAction(command, async inv =>
        {
            var request = new GetInstanceRequest { InstanceId = inv.Parse.GetRequiredValue(id), GetInputsAndOutputs = true };
            var waiting = inv.Parse.GetValue(wait);
            var reply = waiting
                ? await inv.TaskHub.WaitForInstanceCompletionAsync(request, inv.CallOptions).ConfigureAwait(false)
                : await inv.TaskHub.GetInstanceAsync(request, inv.CallOptions).ConfigureAwait(false);
            var state = RequireExists(reply, request.InstanceId);
            var console = inv.ConsoleRunUrl(state.InstanceId);
            if (inv.Json)
            {
                var json = InstanceView.ToJson(state);
                if (console is not null)
                {
                    json["consoleUrl"] = console;
                }

                inv.WriteJson(json);
            }
            else
            {
                await inv.Out.WriteAsync(InstanceView.Detail(state)).ConfigureAwait(false);
                if (console is not null)
                {
                    await inv.Out.WriteLineAsync($"console: {console}").ConfigureAwait(false);
                }
            }

            if (!waiting)
            {
                return ExitCodes.Ok;
            }

            return ErrorMapping.ExitCodeForRun(state);
        });
        return command;
    }

    private static Command History(KwfApp app)
    {
        var id = InstanceArgument();
        var all = new Option<bool>("--all") { Description = "Also show the OrchestratorStarted/Completed markers of each episode" };
        var command = new Command("history", "Every event of a run: time, type, name, duration, result or failure") { id, all };
        app.SetAction(command, async inv =>
        {
            var instanceId = inv.Parse.GetRequiredValue(id);
            var events = await ReadHistoryAsync(inv, instanceId).ConfigureAwait(false);
            var rows = HistoryView.Rows(events);
            if (inv.Json)
            {
                inv.WriteJson(JsonText.Obj(("instanceId", instanceId), ("events", HistoryView.ToJson(rows))));
            }
            else
            {
                await inv.Out.WriteAsync(HistoryView.Table(rows, inv.Parse.GetValue(all)).ToString()).ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Export(KwfApp app)
    {
        var id = InstanceArgument();
        var output = new Option<string?>("--output", "-o") { Description = "Write to this file instead of stdout" };
        var command = new Command("export", "Write a run's history as a JSON history document (what 'kwf wf replay' reads)") { id, output };
        app.SetAction(command, async inv =>
        {
            var instanceId = inv.Parse.GetRequiredValue(id);
            var reply = await inv.TaskHub.GetInstanceAsync(new GetInstanceRequest { InstanceId = instanceId }, inv.CallOptions).ConfigureAwait(false);
            var state = RequireExists(reply, instanceId);
            var events = await ReadHistoryAsync(inv, instanceId).ConfigureAwait(false);
            HistoryDocument document;
            try
            {
                document = HistoryDocument.Export(instanceId, state.Name, state.ExecutionId, InstanceView.StatusName(state.OrchestrationStatus), events);
            }
            catch (InvalidOperationException ex)
            {
                throw new CliException(ex.Message);
            }

            var json = document.ToJson();
            if (inv.Parse.GetValue(output) is { } path && path != "-")
            {
                await File.WriteAllTextAsync(path, json, inv.Token).ConfigureAwait(false);
                await inv.Err.WriteLineAsync($"wrote {events.Count} events of {instanceId} to {path}").ConfigureAwait(false);
            }
            else
            {
                await inv.Out.WriteAsync(json).ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command ReplayCommand(KwfApp app)
    {
        var file = new Argument<string>("file") { Description = "History document from 'kwf wf export' ('-' for stdin)" };
        var assembly = new Option<string?>("--assembly") { Description = "Replay against the orchestrations of this assembly (a candidate build) instead of kwf's own" };
        var module = new Option<string?>("--module") { Description = "With --assembly: the type (or Type.Method) whose static method taking a DurableTaskRegistry registers the orchestrations" };
        var command = new Command("replay", "Replay an exported history offline against orchestration code: deterministic, or where it first diverges") { file, assembly, module };
        app.SetAction(command, async inv =>
        {
            var path = inv.Parse.GetRequiredValue(file);
            if (inv.Parse.GetValue(module) is not null && inv.Parse.GetValue(assembly) is null)
            {
                throw CliException.Usage("--module needs --assembly");
            }

            HistoryDocument document;
            try
            {
                document = HistoryDocument.Parse(JsonInput.ReadText(path, "replay", app.In));
            }
            catch (FormatException ex)
            {
                throw CliException.Usage($"{(path == "-" ? "stdin" : path)}: {ex.Message}");
            }

            var code = inv.Parse.GetValue(assembly) is { } assemblyPath
                ? OrchestrationModule.Load(assemblyPath, inv.Parse.GetValue(module))
                : OrchestrationModule.Current();
            var result = OfflineReplayer.Replay(document, code);
            if (inv.Json)
            {
                inv.WriteJson(JsonText.Obj(
                    ("instanceId", document.InstanceId),
                    ("name", document.Name),
                    ("code", code.Description),
                    ("deterministic", result.IsDeterministic),
                    ("eventsReplayed", result.EventsReplayed),
                    ("eventCount", document.Events.Count),
                    ("eventIndex", result.EventIndex),
                    ("recorded", result.Recorded),
                    ("produced", result.Produced)));
            }
            else if (result.IsDeterministic)
            {
                await inv.Out.WriteLineAsync($"deterministic: {document.Name} run {document.InstanceId} replays all {result.EventsReplayed} events against {code.Description}").ConfigureAwait(false);
            }
            else
            {
                await inv.Out.WriteLineAsync($"diverged: {document.Name} run {document.InstanceId} against {code.Description}").ConfigureAwait(false);
                await inv.Out.WriteLineAsync($"  at event #{result.EventIndex} of {document.Events.Count}").ConfigureAwait(false);
                await inv.Out.WriteLineAsync($"  recorded: {result.Recorded}").ConfigureAwait(false);
                await inv.Out.WriteLineAsync($"  new code: {result.Produced}").ConfigureAwait(false);
            }

            return result.IsDeterministic ? ExitCodes.Ok : ExitCodes.Diverged;
        });
        return command;
    }

    private static Command Terminate(KwfApp app)
    {
        var id = InstanceArgument();
        var reason = new Option<string?>("--reason") { Description = "Why (recorded as the run's output)" };
        var recursive = new Option<bool>("--recursive") { Description = "Also terminate its sub-orchestrations" };
        var command = new Command("terminate", "Terminate a run; waits until it has ended unless --no-wait") { id, reason, recursive };
        app.SetAction(command, async inv =>
        {
            var instanceId = inv.Parse.GetRequiredValue(id);
            var request = new TerminateRequest { InstanceId = instanceId, Recursive = inv.Parse.GetValue(recursive) };
            if (inv.Parse.GetValue(reason) is { } r)
            {
                request.Output = JsonSerializer.Serialize(r);
            }

            await inv.TaskHub.TerminateInstanceAsync(request, inv.CallOptions).ConfigureAwait(false);
            return await AfterControlAsync(inv, instanceId, "terminate", waitForEnd: true).ConfigureAwait(false);
        });
        return command;
    }

    private static Command SuspendOrResume(KwfApp app, bool suspend)
    {
        var id = InstanceArgument();
        var reason = new Option<string?>("--reason") { Description = "Why (recorded in history)" };
        var command = new Command(suspend ? "suspend" : "resume", suspend ? "Suspend a running run (it keeps its place)" : "Resume a suspended run") { id, reason };
        app.SetAction(command, async inv =>
        {
            var instanceId = inv.Parse.GetRequiredValue(id);
            var text = inv.Parse.GetValue(reason);
            if (suspend)
            {
                await inv.TaskHub.SuspendInstanceAsync(new SuspendRequest { InstanceId = instanceId, Reason = text }, inv.CallOptions).ConfigureAwait(false);
            }
            else
            {
                await inv.TaskHub.ResumeInstanceAsync(new ResumeRequest { InstanceId = instanceId, Reason = text }, inv.CallOptions).ConfigureAwait(false);
            }

            // The host applies suspend and resume when the run next takes its inbox: wait (briefly) until it has.
            Func<OrchestrationStatus, bool> applied = suspend
                ? s => s == OrchestrationStatus.Suspended || s.FromProto().IsTerminal()
                : s => s != OrchestrationStatus.Suspended;
            return await AfterControlAsync(inv, instanceId, suspend ? "suspend" : "resume", waitForEnd: false, applied).ConfigureAwait(false);
        });
        return command;
    }

    private static Command Restart(KwfApp app)
    {
        var id = InstanceArgument();
        var newId = new Option<bool>("--new-id") { Description = "Start the new run under a new instance id" };
        var command = new Command("restart", "Run a finished run again with its original input") { id, newId };
        app.SetAction(command, async inv =>
        {
            var instanceId = inv.Parse.GetRequiredValue(id);
            var reply = await inv.TaskHub.RestartInstanceAsync(
                new RestartInstanceRequest { InstanceId = instanceId, RestartWithNewInstanceId = inv.Parse.GetValue(newId) }, inv.CallOptions).ConfigureAwait(false);
            return await AfterControlAsync(inv, reply.InstanceId, "restart", waitForEnd: true).ConfigureAwait(false);
        });
        return command;
    }

    private static Command Purge(KwfApp app)
    {
        var id = new Argument<string?>("instance") { Description = "The run to purge (or use the filters)", Arity = ArgumentArity.ZeroOrOne };
        var status = new Option<string[]>("--status") { Description = "Purge finished runs with this status (repeat)" };
        var before = new Option<string?>("--before") { Description = "Purge runs created before this time (ISO-8601, UTC)" };
        var command = new Command("purge", "Delete finished runs and their history") { id, status, before };
        app.SetAction(command, async inv =>
        {
            var request = new PurgeInstancesRequest();
            var statuses = (inv.Parse.GetValue(status) ?? []).Select(InstanceView.ParseStatus).ToList();
            var createdBefore = inv.Parse.GetValue(before);
            if (inv.Parse.GetValue(id) is { } instanceId)
            {
                if (statuses.Count > 0 || createdBefore is not null)
                {
                    throw CliException.Usage("give an instance id or filters (--status, --before), not both");
                }

                request.InstanceId = instanceId;
            }
            else if (statuses.Count > 0 || createdBefore is not null)
            {
                var filter = new PurgeInstanceFilter();
                filter.RuntimeStatus.AddRange(statuses);
                if (createdBefore is not null)
                {
                    filter.CreatedTimeTo = Timestamp.FromDateTime(ParseTime(createdBefore, "--before"));
                }

                request.PurgeInstanceFilter = filter;
            }
            else
            {
                throw CliException.Usage("purge needs an instance id or a filter (--status, --before)");
            }

            var reply = await inv.TaskHub.PurgeInstancesAsync(request, inv.CallOptions).ConfigureAwait(false);
            // The host refuses a run that has not finished (FailedPrecondition), so 0 deleted means there was no such run.
            if (request.RequestCase == PurgeInstancesRequest.RequestOneofCase.InstanceId && reply.DeletedInstanceCount == 0)
            {
                throw new CliException(ExitCodes.NotFound, $"no run '{request.InstanceId}'");
            }

            if (inv.Json)
            {
                inv.WriteJson(JsonText.Obj(("deleted", reply.DeletedInstanceCount), ("complete", reply.IsComplete)));
            }
            else
            {
                await inv.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"purged {reply.DeletedInstanceCount} run(s)")).ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Raise(KwfApp app)
    {
        var id = InstanceArgument();
        var name = new Argument<string>("event") { Description = "Event name" };
        var data = new Option<string?>("--data") { Description = "Event payload as JSON" };
        var command = new Command("raise", "Send an external event to a run") { id, name, data };
        app.SetAction(command, async inv =>
        {
            var instanceId = inv.Parse.GetRequiredValue(id);
            var request = new RaiseEventRequest { InstanceId = instanceId, Name = inv.Parse.GetRequiredValue(name) };
            if (inv.Parse.GetValue(data) is { } payload)
            {
                try
                {
                    using var _ = JsonDocument.Parse(payload);
                }
                catch (JsonException ex)
                {
                    throw CliException.Usage($"--data must be JSON: {ex.Message}");
                }

                request.Input = payload;
            }

            await inv.TaskHub.RaiseEventAsync(request, inv.CallOptions).ConfigureAwait(false);
            if (inv.Json)
            {
                inv.WriteJson(JsonText.Obj(("instanceId", instanceId), ("event", request.Name), ("raised", true)));
            }
            else
            {
                await inv.Out.WriteLineAsync($"raised '{request.Name}' on {instanceId}").ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<int> AfterControlAsync(
        Invocation inv, string instanceId, string verb, bool waitForEnd, Func<OrchestrationStatus, bool>? applied = null)
    {
        var request = new GetInstanceRequest { InstanceId = instanceId, GetInputsAndOutputs = true };
        var reply = waitForEnd && !inv.NoWait
            ? await inv.TaskHub.WaitForInstanceCompletionAsync(request, inv.CallOptions).ConfigureAwait(false)
            : await inv.TaskHub.GetInstanceAsync(request, inv.CallOptions).ConfigureAwait(false);
        var state = RequireExists(reply, instanceId);
        var until = DateTime.UtcNow + ControlSettleTime;
        while (applied is not null && !inv.NoWait && !applied(state.OrchestrationStatus) && DateTime.UtcNow < until)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), inv.Token).ConfigureAwait(false);
            state = RequireExists(await inv.TaskHub.GetInstanceAsync(request, inv.CallOptions).ConfigureAwait(false), instanceId);
        }
        if (inv.Json)
        {
            inv.WriteJson(InstanceView.ToJson(state));
        }
        else
        {
            await inv.Out.WriteLineAsync($"{verb}: {instanceId} is {InstanceView.StatusName(state.OrchestrationStatus)} ({InstanceView.Outcome(state)})").ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }

    private static async Task<List<HistoryEvent>> ReadHistoryAsync(Invocation inv, string instanceId)
    {
        using var call = inv.TaskHub.StreamInstanceHistory(new StreamInstanceHistoryRequest { InstanceId = instanceId }, inv.CallOptions);
        var events = new List<HistoryEvent>();
        while (await call.ResponseStream.MoveNext(inv.Token).ConfigureAwait(false))
        {
            events.AddRange(call.ResponseStream.Current.Events);
        }

        return events;
    }

    private static OrchestrationState RequireExists(GetInstanceResponse reply, string instanceId) =>
        reply.Exists && reply.OrchestrationState is not null
            ? reply.OrchestrationState
            : throw new CliException(ExitCodes.NotFound, $"no run '{instanceId}'");

    private static DateTime ParseTime(string text, string option) =>
        DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time)
            ? DateTime.SpecifyKind(time, DateTimeKind.Utc)
            : throw CliException.Usage($"{option} must be a time like 2026-11-23T17:00:00Z, got '{text}'");

    private static Argument<string> InstanceArgument() => new("instance") { Description = "Instance id of the run" };
}
