using System.Diagnostics;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using KataWorkflows.Activities.Drivers;
using KataWorkflows.Engine;
using KataWorkflows.Host.Telemetry;
using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Protocol.V1;

namespace KataWorkflows.Host.Services;

/// <summary>
/// Wraps every incoming call in a span of <see cref="HostTelemetry.Source"/>, counts it, and maps the exceptions the
/// services let through to gRPC status codes; a sandbox call's failure also travels as the
/// <see cref="FailureTrailer"/> trailer.
/// </summary>
internal sealed partial class CallInterceptor : Interceptor
{
    /// <summary>The binary trailer that carries a <see cref="CallFailure"/>.</summary>
    public const string FailureTrailer = "kwf-failure-bin";

    /// <summary>The longest status message sent (<see cref="Bounded"/>).</summary>
    public const int MaxDetailLength = 1024;

    /// <summary>The service whose errors carry <see cref="FailureTrailer"/>.</summary>
    public static readonly string SandboxesService = Sandboxes.Descriptor.FullName;

    private readonly ILogger<CallInterceptor> _logger;

    /// <summary>Creates the interceptor.</summary>
    public CallInterceptor(ILogger<CallInterceptor> logger) => _logger = logger;

    /// <inheritdoc />
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        RunAsync(context, () => continuation(request, context));

    /// <inheritdoc />
    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        RunAsync(context, async () =>
        {
            await continuation(request, responseStream, context);
            return true;
        });

    /// <inheritdoc />
    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        RunAsync(context, () => continuation(requestStream, context));

    /// <inheritdoc />
    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        RunAsync(context, async () =>
        {
            await continuation(requestStream, responseStream, context);
            return true;
        });

    private async Task<T> RunAsync<T>(ServerCallContext context, Func<Task<T>> call)
    {
        var method = context.Method;
        var service = method.Split('/', StringSplitOptions.RemoveEmptyEntries) is [var s, ..] ? s : method;
        using var activity = HostTelemetry.Source.StartActivity(method.TrimStart('/'), ActivityKind.Server);
        activity?.SetTag(HostTelemetry.MethodTag, method);
        activity?.SetTag(HostTelemetry.ServiceTag, service);
        var started = Stopwatch.GetTimestamp();
        var code = StatusCode.OK;
        try
        {
            return await call();
        }
        catch (RpcException ex)
        {
            code = ex.StatusCode;
            var refused = ex.Status.Detail.Length > MaxDetailLength
                ? new RpcException(new Status(ex.StatusCode, Bounded(ex.Status.Detail)), ex.Trailers, ex.Message)
                : ex;
            if (service == SandboxesService && refused.Trailers.GetValueBytes(FailureTrailer) is null)
            {
                throw WithFailure(refused);
            }

            if (refused != ex)
            {
                throw refused;
            }

            throw;
        }
        catch (Exception ex)
        {
            var mapped = Map(ex, context);
            code = mapped.StatusCode;
            if (code == StatusCode.Internal)
            {
                LogUnexpected(ex, method);
            }

            throw service == SandboxesService && mapped.Trailers.GetValueBytes(FailureTrailer) is null ? WithFailure(mapped) : mapped;
        }
        finally
        {
            activity?.SetTag(HostTelemetry.StatusCodeTag, (int)code);
            if (code != StatusCode.OK)
            {
                activity?.SetStatus(ActivityStatusCode.Error, code.ToString());
            }

            var tags = new TagList { { HostTelemetry.MethodTag, method }, { HostTelemetry.StatusCodeTag, code.ToString() } };
            HostTelemetry.Calls.Add(1, tags);
            HostTelemetry.CallDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, tags);
        }
    }

    /// <summary>
    /// The same error with a <see cref="CallFailure"/> trailer made from its status: every error of the Sandboxes service
    /// carries one (sandboxes.proto), also those no run or sandbox call made (a request that did not parse, a WatchRun of
    /// no run).
    /// </summary>
    public static RpcException WithFailure(RpcException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var kind = exception.StatusCode switch
        {
            StatusCode.InvalidArgument or StatusCode.OutOfRange => SandboxErrorKind.InvalidArgument,
            StatusCode.NotFound => SandboxErrorKind.NotFound,
            StatusCode.AlreadyExists => SandboxErrorKind.AlreadyExists,
            StatusCode.FailedPrecondition => SandboxErrorKind.FailedPrecondition,
            StatusCode.Cancelled => SandboxErrorKind.Terminated,
            _ => SandboxErrorKind.Failed,
        };
        var trailers = new Metadata();
        foreach (var entry in exception.Trailers)
        {
            trailers.Add(entry);
        }

        trailers.Add(FailureTrailer, new CallFailure { Kind = kind.ToString(), Message = exception.Status.Detail }.ToByteArray());
        return new RpcException(exception.Status, trailers, exception.Message);
    }

    /// <summary>The status a failure maps to.</summary>
    public static RpcException Map(Exception exception, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentNullException.ThrowIfNull(context);
        switch (exception)
        {
            case SandboxCallException call:
                var trailers = new Metadata { { FailureTrailer, ToProto(call).ToByteArray() } };
                var message = Bounded(WithField(call.Message, call.InnerException));
                return new RpcException(new Status(CodeOf(call.Kind), message), trailers, message);
            case InvalidSandboxArgumentException invalid:
                return Status(StatusCode.InvalidArgument, WithField(invalid.Message, invalid));
            case InstanceNotFoundException missing:
                return Status(StatusCode.NotFound, Quoting(missing.Message, missing.InstanceId));
            case InstanceAlreadyExistsException exists:
                return Status(StatusCode.AlreadyExists, Quoting(exists.Message, exists.InstanceId));
            case DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException { InnerException: InstanceAlreadyExistsException exists }:
                // The SDK client's conflict, with the store's inside: the same answer as the store's.
                return Status(StatusCode.AlreadyExists, Quoting(exists.Message, exists.InstanceId));
            case DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException exists:
                return Status(StatusCode.AlreadyExists, exists.Message);
            case InstanceStateException state:
                return Status(StatusCode.FailedPrecondition, Quoting(state.Message, state.InstanceId));
            case DriverUnavailableException:
                return Status(StatusCode.FailedPrecondition, exception.Message);
            case StoreUnavailableException:
                return Status(StatusCode.Unavailable, exception.Message);
            case ArgumentException argument:
                return Status(StatusCode.InvalidArgument, Named(argument));
            case FormatException or JsonException or InvalidProtocolBufferException:
                return Status(StatusCode.InvalidArgument, exception.Message);
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested:
                return Status(StatusCode.Cancelled, "The call was cancelled");
            default:
                return Status(StatusCode.Internal, $"Internal error ({exception.GetType().Name}): {exception.Message}");
        }
    }

    /// <summary>An invalid argument as a sandbox call's InvalidArgument failure, so it carries the failure trailer.</summary>
    public static SandboxCallException InvalidArgument(InvalidSandboxArgumentException invalid)
    {
        ArgumentNullException.ThrowIfNull(invalid);
        return new SandboxCallException(SandboxErrorKind.InvalidArgument, invalid.Message, inner: invalid);
    }

    /// <summary>The status code of a sandbox call failure.</summary>
    public static StatusCode CodeOf(SandboxErrorKind kind) => kind switch
    {
        SandboxErrorKind.InvalidArgument => StatusCode.InvalidArgument,
        SandboxErrorKind.NotFound => StatusCode.NotFound,
        SandboxErrorKind.AlreadyExists => StatusCode.AlreadyExists,
        SandboxErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
        SandboxErrorKind.Compensated => StatusCode.Aborted,
        SandboxErrorKind.CleanupRequired => StatusCode.Aborted,
        SandboxErrorKind.Terminated => StatusCode.Cancelled,
        _ => StatusCode.Unknown,
    };

    private static RpcException Status(StatusCode code, string message) => new(new Status(code, Bounded(message)), message);

    /// <summary>
    /// A status message is at most <see cref="MaxDetailLength"/> characters: a message that quotes a huge input is cut
    /// (a sandbox call's trailer still has it whole).
    /// </summary>
    public static string Bounded(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.Length <= MaxDetailLength ? message : $"{message[..MaxDetailLength]}… ({message.Length} characters)";
    }

    // An id quoted in a message is cut as SandboxIds cuts one: the caller knows which id it sent.
    private static string Quoting(string message, string id) =>
        id.Length > 40 ? message.Replace(id, id[..40] + "…", StringComparison.Ordinal) : message;

    // Status messages start with the field they are about (docs/operations.md); most messages already name it.
    private static string WithField(string message, Exception? cause) =>
        cause is InvalidSandboxArgumentException { Field: var field } && !message.StartsWith(field, StringComparison.Ordinal)
            ? $"{field}: {message}"
            : message;

    // "field: why", not .NET's "why (Parameter 'field')".
    private static string Named(ArgumentException exception)
    {
        if (string.IsNullOrEmpty(exception.ParamName))
        {
            return exception.Message;
        }

        var suffix = $" (Parameter '{exception.ParamName}')";
        var message = exception.Message.EndsWith(suffix, StringComparison.Ordinal) ? exception.Message[..^suffix.Length] : exception.Message;
        return message.StartsWith(exception.ParamName, StringComparison.Ordinal) ? message : $"{exception.ParamName}: {message}";
    }

    private static CallFailure ToProto(SandboxCallException call)
    {
        var failure = new CallFailure { Kind = call.Kind.ToString(), InstanceId = call.InstanceId ?? string.Empty, Message = call.Message };
        if (call.Failure is not null)
        {
            failure.Failure = ToProto(call.Failure);
        }

        return failure;
    }

    private static FailureInfo ToProto(Microsoft.DurableTask.TaskFailureDetails details)
    {
        var info = new FailureInfo { ErrorType = details.ErrorType, ErrorMessage = details.ErrorMessage };
        if (details.InnerFailure is not null)
        {
            info.InnerFailure = ToProto(details.InnerFailure);
        }

        return info;
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Error, Message = "Call {Method} failed unexpectedly")]
    private partial void LogUnexpected(Exception exception, string method);
}
