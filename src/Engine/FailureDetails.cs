using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine;

/// <summary>
/// A failure recorded as data: what crossed the history boundary when an activity, a sub-orchestration,
/// an entity operation or an orchestration failed.
/// </summary>
/// <param name="ErrorType">The full name of the exception type, or a stable error code.</param>
/// <param name="ErrorMessage">The human-readable message.</param>
/// <param name="StackTrace">The stack trace where one was captured.</param>
/// <param name="InnerFailure">The cause, if any.</param>
/// <param name="IsNonRetriable">True when a retry policy must not retry this failure.</param>
public sealed record FailureDetails(
    string ErrorType,
    string ErrorMessage,
    string? StackTrace = null,
    FailureDetails? InnerFailure = null,
    bool IsNonRetriable = false)
{
    /// <summary>Captures an exception, its inner exceptions included.</summary>
    public static FailureDetails FromException(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is Microsoft.DurableTask.TaskFailedException failed)
        {
            // The cause of a failed task is the task's own failure; keep the chain readable.
            return new FailureDetails(
                failed.GetType().FullName!, failed.Message, failed.StackTrace, FromSdk(failed.FailureDetails), false);
        }

        return new FailureDetails(
            exception.GetType().FullName ?? exception.GetType().Name,
            exception.Message,
            exception.StackTrace,
            exception.InnerException is null ? null : FromException(exception.InnerException),
            exception is INonRetriable);
    }

    /// <summary>True when this failure, or one of its causes, has the given error type.</summary>
    public bool IsCausedBy<TException>()
        where TException : Exception
    {
        for (var f = this; f is not null; f = f.InnerFailure)
        {
            if (f.ErrorType == typeof(TException).FullName)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Converts the SDK's failure details; null in, null out.</summary>
    public static FailureDetails? FromSdk(Microsoft.DurableTask.TaskFailureDetails? failure) =>
        failure is null ? null : new FailureDetails(failure.ErrorType, failure.ErrorMessage, failure.StackTrace, FromSdk(failure.InnerFailure));

    /// <summary>Converts to the protocol message.</summary>
    public TaskFailureDetails ToProto()
    {
        var proto = new TaskFailureDetails
        {
            ErrorType = ErrorType,
            ErrorMessage = ErrorMessage,
            StackTrace = StackTrace,
            IsNonRetriable = IsNonRetriable,
        };
        if (InnerFailure is not null)
        {
            proto.InnerFailure = InnerFailure.ToProto();
        }

        return proto;
    }

    /// <summary>Converts from the protocol message; null in, null out.</summary>
    public static FailureDetails? FromProto(TaskFailureDetails? proto) =>
        proto is null
            ? null
            : new FailureDetails(
                proto.ErrorType, proto.ErrorMessage, proto.StackTrace, FromProto(proto.InnerFailure), proto.IsNonRetriable);

    /// <inheritdoc />
    public override string ToString() =>
        InnerFailure is null ? $"{ErrorType}: {ErrorMessage}" : $"{ErrorType}: {ErrorMessage} ---> {InnerFailure}";
}

/// <summary>Marks an exception type whose failures a retry policy must never retry.</summary>
#pragma warning disable CA1040 // A marker interface is the point: exception types opt in without a base class.
public interface INonRetriable
#pragma warning restore CA1040
{
}
