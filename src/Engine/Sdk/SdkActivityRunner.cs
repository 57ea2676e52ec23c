using CoreFailure = DurableTask.Core.FailureDetails;
using CoreInstance = DurableTask.Core.OrchestrationInstance;
using CoreTaskContext = DurableTask.Core.TaskContext;
using P = Microsoft.DurableTask.Protobuf;
using SdkFactory = Microsoft.DurableTask.Worker.IDurableTaskFactory;
using SdkShimFactory = Microsoft.DurableTask.Worker.Shims.DurableTaskShimFactory;

namespace KataWorkflows.Engine.Sdk;

/// <summary>Runs activities written with the official SDK against protocol activity requests.</summary>
public sealed class SdkActivityRunner
{
    /// <summary>The error type of an activity whose name no registered activity has.</summary>
    public const string ActivityNotFoundErrorType = "ActivityTaskNotFound";

    private readonly SdkFactory _factory;
    private readonly IServiceProvider _services;
    private readonly SdkShimFactory _shims;

    /// <summary>Creates a runner over the factory's activities.</summary>
    public SdkActivityRunner(SdkFactory factory, IServiceProvider services, SdkShimFactory shims)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(shims);
        _factory = factory;
        _services = services;
        _shims = shims;
    }

    /// <summary>
    /// Runs the activity and answers as the protocol does: its serialized result, or the failure details of what
    /// it threw (type, message, stack trace, inner failures).
    /// </summary>
    /// <remarks>
    /// The request's input is the protocol's single JSON value; the SDK's activity shim expects the one-element
    /// array its orchestrations produce and strips it, so the value is wrapped first (see durabletask-sdk §1.4).
    /// The SDK's activity context has no cancellation token: <paramref name="cancellationToken"/> is checked
    /// before the activity starts.
    /// </remarks>
    public async Task<P.ActivityResponse> RunAsync(P.ActivityRequest request, IServiceProvider? services = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        var instance = request.OrchestrationInstance;
        var response = new P.ActivityResponse { InstanceId = instance?.InstanceId ?? string.Empty, TaskId = request.TaskId };
        if (!_factory.TryCreateActivity(request.Name, services ?? _services, out var activity) || activity is null)
        {
            response.FailureDetails = new P.TaskFailureDetails
            {
                ErrorType = ActivityNotFoundErrorType,
                ErrorMessage = $"No activity named '{request.Name}' is registered with this worker.",
                IsNonRetriable = true,
            };
            return response;
        }

        var shim = _shims.CreateActivity(request.Name, activity);
        var context = new CoreTaskContext(
            new CoreInstance { InstanceId = instance?.InstanceId, ExecutionId = instance?.ExecutionId }, request.Name, request.Version ?? string.Empty, request.TaskId);
        try
        {
            response.Result = await shim.RunAsync(context, CoreHistoryMapper.WrapActivityInput(request.Input)).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Whatever the activity threw is its result: it goes back to the orchestration as failure details.
        catch (Exception e)
#pragma warning restore CA1031
        {
            response.FailureDetails = CoreHistoryMapper.ToProtocol(new CoreFailure(e));

            // Core's failure details know nothing of the marker; the recorded failure says it, as the engine's always did.
            response.FailureDetails!.IsNonRetriable |= e is INonRetriable;
        }

        return response;
    }
}
