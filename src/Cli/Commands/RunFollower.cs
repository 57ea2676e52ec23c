using System.Text.Json.Nodes;
using Grpc.Core;
using KataWorkflows.Cli.Output;
using KataWorkflows.Protocol.V1;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Cli.Commands;

/// <summary>
/// Follows a run a mutating call started: shows each step live from the WatchRun stream, then reads the run's final
/// state and prints the outcome. The exit code says how it ended.
/// </summary>
internal static class RunFollower
{
    public static async Task<int> FollowAsync(Invocation invocation, string operation, CallResult started)
    {
        var instanceId = started.InstanceId;
        if (invocation.NoWait)
        {
            if (invocation.Json)
            {
                invocation.WriteJson(JsonText.Obj(("instanceId", instanceId), ("operation", operation), ("status", "Started")));
            }
            else
            {
                await invocation.Out.WriteLineAsync(instanceId).ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }

        if (!invocation.Json)
        {
            await invocation.Out.WriteLineAsync($"{operation} run {instanceId}").ConfigureAwait(false);
        }

        var steps = new JsonArray();
        RunEvent? final = null;
        try
        {
            final = await WatchAsync(invocation, instanceId, steps).ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented)
        {
            // A host without WatchRun still answers the sidecar's wait below: no live steps, same outcome.
            await invocation.Err.WriteLineAsync("(the host does not stream steps; waiting for the outcome)").ConfigureAwait(false);
        }
        catch (RpcException ex) when (!invocation.Token.IsCancellationRequested)
        {
            // The run is durable: it goes on (or resumes when the host is back) whatever happened to this connection.
            throw new CliException(
                ErrorMapping.ExitCodeFor(ex),
                $"{ErrorMapping.MessageFor(ex, invocation.Target)}; run {instanceId} goes on in the host: 'kwf wf show --wait {instanceId}' tells how it ends",
                ex);
        }

        // The stream may also end early (the host restarted); the run's state is the authority on how it ended.
        GetInstanceResponse reply;
        try
        {
            reply = await invocation.TaskHub.WaitForInstanceCompletionAsync(
                new GetInstanceRequest { InstanceId = instanceId, GetInputsAndOutputs = true }, invocation.CallOptions).ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented && final is not null)
        {
            // A host without the sidecar service: the stream's last event is all there is to say how the run ended.
            return await ReportAsync(invocation, operation, FromFinalEvent(instanceId, operation, final), steps).ConfigureAwait(false);
        }

        if (!reply.Exists)
        {
            throw new CliException(ExitCodes.NotFound, $"run {instanceId} is gone (purged?)");
        }

        return await ReportAsync(invocation, operation, reply.OrchestrationState, steps).ConfigureAwait(false);
    }

    /// <summary>Prints a finished run's outcome and returns its exit code.</summary>
    public static async Task<int> ReportAsync(Invocation invocation, string operation, OrchestrationState state, JsonArray? steps)
    {
        var exit = ErrorMapping.ExitCodeForRun(state);
        var result = JsonText.ParseOrString(state.Output);

        // After a failed call the console's page of the run is where to look next (its timeline and history).
        var console = exit == ExitCodes.Ok ? null : invocation.ConsoleRunUrl(state.InstanceId);
        if (invocation.Json)
        {
            var obj = JsonText.Obj(
                ("instanceId", state.InstanceId),
                ("operation", operation),
                ("status", InstanceView.StatusName(state.OrchestrationStatus)),
                ("outcome", InstanceView.Outcome(state)),
                ("result", result),
                ("failure", InstanceView.FailureJson(state.FailureDetails)),
                ("steps", steps));
            if (console is not null)
            {
                obj["consoleUrl"] = console;
            }

            invocation.WriteJson(obj);
            return exit;
        }

        if (exit == ExitCodes.Ok)
        {
            await invocation.Out.WriteAsync(SandboxView.Result(result)).ConfigureAwait(false);
        }
        else
        {
            await invocation.Err.WriteLineAsync(
                $"{operation} {InstanceView.Outcome(state)}: {state.FailureDetails?.ErrorMessage ?? InstanceView.StatusName(state.OrchestrationStatus)}")
                .ConfigureAwait(false);
            if (console is not null)
            {
                await invocation.Err.WriteLineAsync($"console: {console}").ConfigureAwait(false);
            }
        }

        return exit;
    }

    private static OrchestrationState FromFinalEvent(string instanceId, string operation, RunEvent final) => new()
    {
        InstanceId = instanceId,
        Name = operation,
        OrchestrationStatus = final.Kind switch
        {
            "run_completed" => OrchestrationStatus.Completed,
            "run_failed" => OrchestrationStatus.Failed,
            _ => OrchestrationStatus.Terminated,
        },
        FailureDetails = final.Kind == "run_completed" ? null : FailureFromDetail(final.Detail),
    };

    // The detail of a failed run reads "Namespace.TypeException: message".
    private static TaskFailureDetails FailureFromDetail(string detail)
    {
        var match = System.Text.RegularExpressions.Regex.Match(detail, @"^(?<type>[\w.]+Exception): (?<message>.*)$", System.Text.RegularExpressions.RegexOptions.Singleline);
        return match.Success
            ? new TaskFailureDetails { ErrorType = match.Groups["type"].Value, ErrorMessage = match.Groups["message"].Value }
            : new TaskFailureDetails { ErrorType = "RunFailed", ErrorMessage = detail };
    }

    private static async Task<RunEvent?> WatchAsync(Invocation invocation, string instanceId, JsonArray steps)
    {
        using var call = invocation.Sandboxes.WatchRun(new WatchRunRequest { InstanceId = instanceId }, invocation.CallOptions);
        while (await call.ResponseStream.MoveNext(invocation.Token).ConfigureAwait(false))
        {
            var runEvent = call.ResponseStream.Current;
            if (invocation.Json)
            {
                steps.Add(RunEventView.ToJson(runEvent));
            }
            else
            {
                await invocation.Out.WriteLineAsync(RunEventView.Line(runEvent)).ConfigureAwait(false);
                await invocation.Out.FlushAsync(invocation.Token).ConfigureAwait(false);
            }

            if (RunEventView.IsFinal(runEvent))
            {
                return runEvent;
            }
        }

        return null;
    }
}
