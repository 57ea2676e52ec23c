using Grpc.Core;
using KataWorkflows.Engine;
using KataWorkflows.Orchestrations.Client;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Cli;

/// <summary>Maps what went wrong (a gRPC status, a recorded failure) to an exit code and a message.</summary>
public static class ErrorMapping
{
    /// <summary>The exit code for a gRPC status.</summary>
    public static int ExitCodeFor(StatusCode status) => status switch
    {
        StatusCode.OK => ExitCodes.Ok,
        StatusCode.InvalidArgument or StatusCode.OutOfRange => ExitCodes.Usage,
        StatusCode.NotFound => ExitCodes.NotFound,
        StatusCode.FailedPrecondition or StatusCode.AlreadyExists or StatusCode.Aborted => ExitCodes.FailedPrecondition,
        StatusCode.Unavailable => ExitCodes.Unavailable,
        StatusCode.DeadlineExceeded => ExitCodes.Timeout,
        _ => ExitCodes.Error,
    };

    /// <summary>The exit code for a failed call: a call that never reached the host (TLS refused, say) is <see cref="ExitCodes.Unavailable"/>.</summary>
    public static int ExitCodeFor(RpcException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return IsConnectionFailure(exception) ? ExitCodes.Unavailable : ExitCodeFor(exception.StatusCode);
    }

    /// <summary>The message for a failed call: the host's own detail, or what the connection problem was.</summary>
    public static string MessageFor(RpcException exception, string target)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (IsConnectionFailure(exception))
        {
            var cause = Innermost(exception.Status.DebugException ?? exception);
            return $"cannot reach the host at {target}: {cause.Message}";
        }

        if (exception.StatusCode == StatusCode.Unimplemented)
        {
            return $"the host at {target} does not implement this call: {exception.Status.Detail}";
        }

        var detail = string.IsNullOrEmpty(exception.Status.Detail) ? exception.StatusCode.ToString() : exception.Status.Detail;
        return exception.StatusCode switch
        {
            StatusCode.NotFound => $"not found: {detail}",
            StatusCode.InvalidArgument => $"invalid argument: {detail}",
            StatusCode.FailedPrecondition or StatusCode.AlreadyExists or StatusCode.Aborted => $"refused: {detail}",
            _ => $"{exception.StatusCode}: {detail}",
        };
    }

    /// <summary>
    /// The exit code for a finished run: 0 when it completed, the failure's own code when it failed, and
    /// <see cref="ExitCodes.RunFailed"/> for a terminated (or any other) run.
    /// </summary>
    public static int ExitCodeForRun(OrchestrationState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return state.OrchestrationStatus switch
        {
            OrchestrationStatus.Completed => ExitCodes.Ok,
            OrchestrationStatus.Failed => ExitCodeForFailure(state.FailureDetails),
            _ => ExitCodes.RunFailed,
        };
    }

    /// <summary>
    /// The exit code for a run that failed with these details: the sandbox call's own error kinds (invalid argument,
    /// not found, wrong state) keep their codes; anything else (a failed, compensated step) is a failed run.
    /// </summary>
    public static int ExitCodeForFailure(TaskFailureDetails? failure) => KindOf(failure) switch
    {
        SandboxErrorKind.InvalidArgument => ExitCodes.Usage,
        SandboxErrorKind.NotFound => ExitCodes.NotFound,
        SandboxErrorKind.AlreadyExists or SandboxErrorKind.FailedPrecondition or SandboxErrorKind.CleanupRequired => ExitCodes.FailedPrecondition,
        _ => ExitCodes.RunFailed,
    };

    /// <summary>True when the failure says the run's steps were undone.</summary>
    public static bool IsCompensated(TaskFailureDetails? failure) => KindOf(failure) == SandboxErrorKind.Compensated;

    private static SandboxErrorKind KindOf(TaskFailureDetails? failure) => SandboxCallException.KindOf(FailureDetails.FromProto(failure));

    // Grpc.Net.Client reports a failed TLS handshake as Internal, with the HttpRequestException as its debug exception.
    private static bool IsConnectionFailure(RpcException exception) =>
        exception.StatusCode == StatusCode.Unavailable
        || (exception.StatusCode == StatusCode.Internal && exception.Status.DebugException is HttpRequestException);

    private static Exception Innermost(Exception exception)
    {
        while (exception.InnerException is not null)
        {
            exception = exception.InnerException;
        }

        return exception;
    }
}
