using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Core = DurableTask.Core;
using CoreCommand = DurableTask.Core.Command;
using CoreHistory = DurableTask.Core.History;
using P = Microsoft.DurableTask.Protobuf;
using SdkFactory = Microsoft.DurableTask.Worker.IDurableTaskFactory;
using SdkParent = Microsoft.DurableTask.ParentOrchestrationInstance;
using SdkShimFactory = Microsoft.DurableTask.Worker.Shims.DurableTaskShimFactory;
using SdkWorkerOptions = Microsoft.DurableTask.Worker.DurableTaskWorkerOptions;

namespace KataWorkflows.Engine.Sdk;

/// <summary>
/// Runs orchestration episodes written with the official Durable Task SDK: the SDK's shims over
/// DurableTask.Core's <see cref="Core.TaskOrchestrationExecutor"/> (failure details propagated, unprocessed events
/// carried over on continue-as-new), fed with protocol history and answering with protocol actions.
/// </summary>
/// <remarks>Thread-safe: every episode builds its own runtime state, shim and executor.</remarks>
public sealed class SdkOrchestrationRunner
{
    /// <summary>The error type of an orchestration whose name no registered orchestrator has.</summary>
    public const string OrchestratorNotFoundErrorType = "OrchestratorTaskNotFound";

    private static readonly string NonDeterminismErrorType = typeof(Core.Exceptions.NonDeterministicOrchestrationException).FullName!;

    private readonly SdkFactory _factory;
    private readonly IServiceProvider _services;
    private readonly SdkShimFactory _shims;

    /// <summary>Creates a runner over the tasks the factory knows.</summary>
    /// <param name="factory">The SDK's task factory (the worker's, or <see cref="SdkTaskFactory.FromRegistry"/>).</param>
    /// <param name="services">Services the orchestrators are created from, unless a call passes a scope of its own.</param>
    /// <param name="options">The worker options: data converter, entity support, maximum timer interval.</param>
    /// <param name="loggerFactory">Loggers for the orchestrations' replay-safe loggers.</param>
    public SdkOrchestrationRunner(SdkFactory factory, IServiceProvider services, SdkWorkerOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        _factory = factory;
        _services = services;
        Options = options;
        _shims = new SdkShimFactory(options, loggerFactory ?? NullLoggerFactory.Instance);
        Mapper = new CoreHistoryMapper(options.MaximumTimerInterval);
    }

    /// <summary>
    /// A runner for offline replay over a registry, with the settings the store's worker runs them with (entity
    /// support on, the engine's JSON converter, the SDK's maximum timer interval); orchestrators are created from no
    /// services, as replay runs nothing else.
    /// </summary>
    public static SdkOrchestrationRunner ForReplay(Microsoft.DurableTask.DurableTaskRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var options = new SdkWorkerOptions
        {
            EnableEntitySupport = true,
            DataConverter = new Microsoft.DurableTask.Converters.JsonDataConverter(Serialization.DataConverter.Default.Options),
        };
        return new SdkOrchestrationRunner(SdkTaskFactory.FromRegistry(registry), NoServices.Instance, options);
    }

    /// <summary>The worker options the runner was made with.</summary>
    public SdkWorkerOptions Options { get; }

    /// <summary>The mapping between protocol and Core events this runner uses.</summary>
    public CoreHistoryMapper Mapper { get; }

    /// <summary>
    /// Runs one episode: replays <paramref name="pastEvents"/>, then applies <paramref name="newEvents"/> (which begin
    /// with the episode's <c>OrchestratorStarted</c>).
    /// </summary>
    /// <exception cref="ArgumentException">The history has no <c>ExecutionStarted</c>, or an event cannot be mapped.</exception>
    public SdkEpisodeResult Run(
        IReadOnlyList<P.HistoryEvent> pastEvents,
        IReadOnlyList<P.HistoryEvent> newEvents,
        P.OrchestratorEntityParameters? entityParameters = null,
        IServiceProvider? services = null)
    {
        var episode = Prepare(pastEvents, newEvents, entityParameters, services);
        return episode.Executor is not { } executor
            ? episode.NotFound!
            : Execute(episode, executor.Execute, pastEvents, newEvents, replayed: true);
    }

    /// <summary>
    /// Replays a recorded history (one execution, as stored or exported) against the current code, offline, with every
    /// event past: nothing runs but the orchestration's code, and Core's non-determinism check says whether the code
    /// still does what was recorded, or where it first diverges (the event's index in <paramref name="history"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The history has no <c>ExecutionStarted</c>, or an event cannot be mapped.</exception>
    public ReplayResult Replay(IReadOnlyList<P.HistoryEvent> history, IServiceProvider? services = null)
    {
        ArgumentNullException.ThrowIfNull(history);
        var result = Run(history, [], entityParameters: null, services);
        if (result.NonDeterminism is not { } divergence)
        {
            if (result.Completion is { OrchestrationStatus: P.OrchestrationStatus.Failed, FailureDetails.ErrorType: OrchestratorNotFoundErrorType } missing)
            {
                return ReplayResult.Diverged(0, SdkNonDeterminism.Describe(history[0]), missing.FailureDetails.ErrorMessage);
            }

            return CompareOutcome(history, result) ?? ReplayResult.Deterministic(history.Count);
        }

        var recorded = divergence.Recorded;
        var produced = recorded is null ? null : result.Actions.FirstOrDefault(a => a.Id == recorded.EventId && a.CompleteOrchestration is null);
        return ReplayResult.Diverged(
            divergence.EventIndex,
            divergence.RecordedDescription,
            produced is null ? divergence.Message : $"{SdkNonDeterminism.Describe(produced)}: {divergence.Message}");
    }

    /// <summary>
    /// Core checks what the code schedules, not how it ends; a finished history also records its outcome, and code
    /// that now ends it otherwise (fails where it completed, completes where it continued as new) diverges there.
    /// </summary>
    private static ReplayResult? CompareOutcome(IReadOnlyList<P.HistoryEvent> history, SdkEpisodeResult result)
    {
        for (var i = history.Count - 1; i >= 0; i--)
        {
            (P.OrchestrationStatus? status, string? recorded) = history[i].EventTypeCase switch
            {
                P.HistoryEvent.EventTypeOneofCase.ExecutionCompleted => (history[i].ExecutionCompleted.OrchestrationStatus, "ExecutionCompleted"),
                P.HistoryEvent.EventTypeOneofCase.ContinueAsNew => (P.OrchestrationStatus.ContinuedAsNew, "ContinueAsNew"),
                _ => ((P.OrchestrationStatus?)null, (string?)null),
            };
            if (recorded is null)
            {
                continue;
            }

            // A terminated run's outcome was not the code's.
            if (status == P.OrchestrationStatus.Terminated || history.Any(e => e.ExecutionTerminated is not null))
            {
                return null;
            }

            var produced = result.Completion;
            return produced?.OrchestrationStatus == status
                ? null
                : ReplayResult.Diverged(
                    i,
                    $"{recorded} ({Name(status!.Value)})",
                    produced is null ? "no completion (the code still waits)" : $"CompleteOrchestration ({Name(produced.OrchestrationStatus)})");
        }

        return null;

        static string Name(P.OrchestrationStatus s) => s.ToString();
    }

    /// <summary>Starts an extended session: the orchestration's code stays in memory between episodes.</summary>
    public SdkOrchestrationSession CreateSession() => new(this);

    internal PreparedEpisode Prepare(
        IReadOnlyList<P.HistoryEvent> pastEvents,
        IReadOnlyList<P.HistoryEvent> newEvents,
        P.OrchestratorEntityParameters? entityParameters,
        IServiceProvider? services)
    {
        ArgumentNullException.ThrowIfNull(pastEvents);
        ArgumentNullException.ThrowIfNull(newEvents);
        var events = Mapper.ToCore(new ConcatenatedEvents(pastEvents, newEvents));
        var state = new Core.OrchestrationRuntimeState(events.GetRange(0, pastEvents.Count));
        for (var i = pastEvents.Count; i < events.Count; i++)
        {
            state.AddEvent(events[i]);
        }

        var started = state.ExecutionStartedEvent
            ?? throw new ArgumentException("The orchestration's history has no ExecutionStarted event, so there is nothing to run.", nameof(pastEvents));
        var instanceId = started.OrchestrationInstance?.InstanceId ?? string.Empty;
        var name = started.Name ?? string.Empty;
        if (!_factory.TryCreateOrchestrator(name, services ?? _services, out var orchestrator) || orchestrator is null)
        {
            var failed = new P.OrchestratorAction
            {
                Id = -1,
                CompleteOrchestration = new P.CompleteOrchestrationAction
                {
                    OrchestrationStatus = P.OrchestrationStatus.Failed,
                    FailureDetails = new P.TaskFailureDetails
                    {
                        ErrorType = OrchestratorNotFoundErrorType,
                        ErrorMessage = $"No orchestrator named '{name}' is registered with this worker (instance '{instanceId}').",
                        IsNonRetriable = true,
                    },
                },
            };
            return new PreparedEpisode(state, events, null, null) { NotFound = new SdkEpisodeResult([failed], null, null, Replayed: false) };
        }

        var parent = started.ParentInstance is { } p ? new SdkParent(p.Name ?? string.Empty, p.OrchestrationInstance?.InstanceId ?? string.Empty) : null;
        var shim = new ObservedOrchestration(_shims.CreateOrchestration(name, orchestrator, parent));
        var executor = new Core.TaskOrchestrationExecutor(
            state,
            shim,
            Core.BehaviorOnContinueAsNew.Carryover,
            ToCore(entityParameters),
            Core.ErrorPropagationMode.UseFailureDetails);
        return new PreparedEpisode(state, events, shim, executor);
    }

    /// <summary>
    /// Runs Core's executor. Core lets some failures of the orchestration's own task escape instead of failing the
    /// orchestration (a task that ended cancelled: an uncaught <see cref="OperationCanceledException"/>, as the SDK's
    /// timed-out <c>WaitForExternalEvent</c> throws): the SDK's gRPC worker fails the orchestration with it, and so
    /// does this, rather than abandon an episode that would fail the same way at every retry.
    /// </summary>
    internal static SdkEpisodeResult Execute(
        PreparedEpisode episode, Func<Core.OrchestratorExecutionResult> execute, IReadOnlyList<P.HistoryEvent> pastEvents, IReadOnlyList<P.HistoryEvent> newEvents, bool replayed)
    {
        Core.OrchestratorExecutionResult result;
        try
        {
            result = execute();
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count == 1)
        {
            return Failed(ex.InnerExceptions[0]);
        }
#pragma warning disable CA1031 // Whatever escaped the orchestration's code is how it failed.
        catch (Exception ex) when (ex is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            return Failed(ex);
        }

        return Complete(episode, result, pastEvents, newEvents, replayed);

        SdkEpisodeResult Failed(Exception exception)
        {
            var failed = new P.OrchestratorAction
            {
                Id = -1,
                CompleteOrchestration = new P.CompleteOrchestrationAction
                {
                    OrchestrationStatus = P.OrchestrationStatus.Failed,
                    FailureDetails = CoreHistoryMapper.ToProtocol(new Core.FailureDetails(exception)),
                },
            };
            return new SdkEpisodeResult([failed], null, null, replayed);
        }
    }

    internal static SdkEpisodeResult Complete(
        PreparedEpisode episode, Core.OrchestratorExecutionResult result, IReadOnlyList<P.HistoryEvent> pastEvents, IReadOnlyList<P.HistoryEvent> newEvents, bool replayed)
    {
        // Core's actions are the values of a sorted dictionary, whose every enumeration allocates: they are read once.
        List<P.OrchestratorAction> actions = [];
        SdkNonDeterminism? nonDeterminism = null;
        var completes = false;
        foreach (var action in result.Actions)
        {
            completes |= action is CoreCommand.OrchestrationCompleteOrchestratorAction;
            Add(action);
        }

        if (!completes && episode.Shim is ObservedOrchestration observed && observed.HeldBackCompletion() is { } completion)
        {
            // The function has ended while a task it gave up on is still open: the orchestration ends with it.
            Add(completion);
        }

        return new SdkEpisodeResult(actions, result.CustomStatus, nonDeterminism, replayed);

        void Add(CoreCommand.OrchestratorAction action)
        {
            actions.Add(CoreHistoryMapper.ToProtocol(action));
            if (replayed
                && action is CoreCommand.OrchestrationCompleteOrchestratorAction { OrchestrationStatus: Core.OrchestrationStatus.Failed } failed
                && failed.FailureDetails?.ErrorType == NonDeterminismErrorType)
            {
                nonDeterminism = FindNonDeterminism(episode.Events, pastEvents, newEvents, failed.FailureDetails.ErrorMessage);
            }
        }
    }

    /// <summary>
    /// Core marks every event it processed as played and throws on the one that disagrees, so the first event it
    /// did not play (episode markers aside) is the recorded one the code contradicted.
    /// </summary>
    private static SdkNonDeterminism FindNonDeterminism(
        List<CoreHistory.HistoryEvent> events, IReadOnlyList<P.HistoryEvent> pastEvents, IReadOnlyList<P.HistoryEvent> newEvents, string message)
    {
        for (var i = 0; i < events.Count; i++)
        {
            if (!events[i].IsPlayed && events[i] is not CoreHistory.OrchestratorStartedEvent)
            {
                return new SdkNonDeterminism(i, i < pastEvents.Count ? pastEvents[i] : newEvents[i - pastEvents.Count], message);
            }
        }

        return new SdkNonDeterminism(events.Count, null, message);
    }

    private Core.Entities.TaskOrchestrationEntityParameters? ToCore(P.OrchestratorEntityParameters? parameters)
    {
        if (parameters is null && !Options.EnableEntitySupport)
        {
            return null;
        }

        // Core's entity context reads the reorder window on every request, so entity support needs parameters.
        return new Core.Entities.TaskOrchestrationEntityParameters
        {
            EntityMessageReorderWindow = parameters?.EntityMessageReorderWindow?.ToTimeSpan() ?? TimeSpan.Zero,
        };
    }

    private sealed class NoServices : IServiceProvider
    {
        public static readonly NoServices Instance = new();

        public object? GetService(Type serviceType) => null;
    }

    /// <summary>Past and new events as one sized sequence, so the mapped list is allocated once.</summary>
    private sealed class ConcatenatedEvents(IReadOnlyList<P.HistoryEvent> first, IReadOnlyList<P.HistoryEvent> second) : IReadOnlyCollection<P.HistoryEvent>
    {
        public int Count => first.Count + second.Count;

        public IEnumerator<P.HistoryEvent> GetEnumerator() => first.Concat(second).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>An episode ready to execute: Core's state over the mapped events, the shim and the executor.</summary>
    internal sealed record PreparedEpisode(
        Core.OrchestrationRuntimeState State,
        List<CoreHistory.HistoryEvent> Events,
        Core.TaskOrchestration? Shim,
        Core.TaskOrchestrationExecutor? Executor)
    {
        /// <summary>The result when no orchestrator has the instance's name (then nothing executes).</summary>
        public SdkEpisodeResult? NotFound { get; init; }
    }
}
