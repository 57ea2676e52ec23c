using System.Collections.Concurrent;
using System.Diagnostics;
using KataWorkflows.Engine.Execution;
using KataWorkflows.Engine.Serialization;
using KataWorkflows.Engine.Storage;
using Microsoft.DurableTask.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;

namespace KataWorkflows.Engine.Worker;

/// <summary>
/// Runs orchestration episodes, activities and entity batches from a store, each kind with its own concurrency
/// limit. Work is held under leases that are renewed while it runs; work a dead worker held goes to the next one
/// when its lease expires. On shutdown the worker stops taking work, cancels running activities (they run again
/// later) and waits for episodes in flight.
/// </summary>
public sealed class DurableTaskWorker : BackgroundService
{
    private readonly IOrchestrationStore _store;
    private readonly DurableTaskWorkerOptions _options;
    private readonly IServiceProvider _services;
    private readonly DurableTaskRegistry _registry;
    private readonly DataConverter _converter;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly OrchestrationExecutor _orchestrations;
    private readonly EntityExecutor _entities;
    private readonly ConcurrentDictionary<object, byte> _inFlight = new();
    private readonly CancellationTokenSource _activityShutdown = new();

    /// <summary>Creates a worker.</summary>
    public DurableTaskWorker(
        IOrchestrationStore store,
        DurableTaskRegistry registry,
        IServiceProvider services,
        IOptions<DurableTaskWorkerOptions> options,
        ILoggerFactory loggerFactory,
        DataConverter? converter = null,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _store = store;
        _registry = registry;
        _services = services;
        _options = options.Value;
        _options.Validate();
        _converter = converter ?? DataConverter.Default;
        _time = timeProvider ?? TimeProvider.System;
        _logger = loggerFactory.CreateLogger<DurableTaskWorker>();
        _orchestrations = new OrchestrationExecutor(registry, services, _converter, loggerFactory);
        _entities = new EntityExecutor(registry, services, _converter, _time);
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await _store.StartAsync(stoppingToken).ConfigureAwait(false);
        Log.WorkerStarted(_logger, _options.WorkerId, _options.MaxConcurrentOrchestrations, _options.MaxConcurrentActivities, _options.MaxConcurrentEntities);
        using var registration = stoppingToken.Register(() => _activityShutdown.Cancel());
        var loops = new[]
        {
            DispatchAsync(WorkItemKind.Orchestration, _options.MaxConcurrentOrchestrations, stoppingToken),
            DispatchAsync(WorkItemKind.Activity, _options.MaxConcurrentActivities, stoppingToken),
            DispatchAsync(WorkItemKind.Entity, _options.MaxConcurrentEntities, stoppingToken),
            RenewLeasesAsync(stoppingToken),
        };
        await Task.WhenAll(loops).ConfigureAwait(false);
        Log.WorkerStopped(_logger, _options.WorkerId);
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _activityShutdown.Dispose();
        base.Dispose();
    }

    private async Task DispatchAsync(WorkItemKind kind, int concurrency, CancellationToken stoppingToken)
    {
        using var slots = new SemaphoreSlim(concurrency, concurrency);
        var running = new ConcurrentDictionary<Task, byte>();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await slots.WaitAsync(stoppingToken).ConfigureAwait(false);
                object? item = kind switch
                {
                    WorkItemKind.Orchestration => await _store.TryLockOrchestrationAsync(_options.LeaseDuration, stoppingToken).ConfigureAwait(false),
                    WorkItemKind.Activity => await _store.TryLockActivityAsync(_options.LeaseDuration, stoppingToken).ConfigureAwait(false),
                    _ => await _store.TryLockEntityAsync(_options.LeaseDuration, stoppingToken).ConfigureAwait(false),
                };
                if (item is null)
                {
                    slots.Release();
                    await _store.WaitForWorkAsync(kind, _options.IdlePollInterval, stoppingToken).ConfigureAwait(false);
                    continue;
                }

                _inFlight[item] = 0;
                var task = Task.Run(() => ProcessAsync(item), CancellationToken.None);
                running[task] = 0;
                _ = task.ContinueWith(
                    t =>
                    {
                        _inFlight.TryRemove(item, out _);
                        running.TryRemove(t, out _);
                        slots.Release();
                    },
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                Log.DispatchFailed(_logger, kind.ToString(), ex);
                try
                {
                    await Task.Delay(_options.ErrorBackoff, _time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        // Let what is in flight finish (activities were told to stop), within the shutdown timeout.
        var remaining = running.Keys.ToArray();
        if (remaining.Length > 0)
        {
            await Task.WhenAny(Task.WhenAll(remaining), Task.Delay(_options.ShutdownTimeout, _time, CancellationToken.None)).ConfigureAwait(false);
        }
    }

    private Task ProcessAsync(object item) => item switch
    {
        OrchestrationWorkItem o => ProcessOrchestrationAsync(o),
        ActivityWorkItem a => ProcessActivityAsync(a),
        EntityWorkItem e => ProcessEntityAsync(e),
        _ => Task.CompletedTask,
    };

    private async Task ProcessOrchestrationAsync(OrchestrationWorkItem workItem)
    {
        var startedAt = Stopwatch.GetTimestamp();
        try
        {
            var now = _time.GetUtcNow().UtcDateTime;

            // A run is traced when its client stored a trace context; the metadata says so without reading history.
            ExecutionStartedEvent? executionStarted = null;
            ActivityContext parentSpan = default, orchestrationSpan = default;
            var traced = workItem.Metadata.TraceParent is not null
                && EngineTelemetry.TryGetOrchestrationContext(executionStarted = EngineTelemetry.FindExecutionStarted(workItem), out parentSpan, out orchestrationSpan);
            var ranCode = false;
            if (!ActionApplier.TryTerminate(workItem, now, out var checkpoint))
            {
                var episode = ActionApplier.OpenEpisode(workItem, now);
                var response = _orchestrations.Execute(workItem.InstanceId, workItem.PastEvents, episode);
                if (traced)
                {
                    EngineTelemetry.PropagateTo(response, workItem.InstanceId, orchestrationSpan);
                }

                checkpoint = ActionApplier.Apply(workItem, episode, response, now);
                ranCode = true;
            }

            await _store.CompleteOrchestrationAsync(workItem, checkpoint!, CancellationToken.None).ConfigureAwait(false);
            var status = checkpoint!.Metadata.Status;
            EngineTelemetry.RecordEpisode(workItem.Metadata, checkpoint.Metadata, ranCode, Stopwatch.GetElapsedTime(startedAt));
            if (traced && (checkpoint.Metadata.IsTerminal || checkpoint.StartsNewExecution))
            {
                EngineTelemetry.EmitOrchestrationSpan(
                    executionStarted!, parentSpan, orchestrationSpan, EngineTelemetry.RunStartedAt(workItem, now), _time.GetUtcNow().UtcDateTime, checkpoint.Metadata, checkpoint.StartsNewExecution);
            }

            if (status == OrchestrationRuntimeStatus.Failed && checkpoint.Metadata.FailureDetails is { } failure)
            {
                Log.OrchestrationFailed(_logger, workItem.InstanceId, failure.ErrorType, failure.ErrorMessage);
            }

            Log.EpisodeCompleted(_logger, workItem.InstanceId, workItem.NewMessages.Count, checkpoint.NewHistory.Count, status.ToString());
        }
        catch (LeaseLostException)
        {
            Log.LeaseLost(_logger, workItem.InstanceId);
        }
        catch (Exception ex)
        {
            Log.EpisodeAbandoned(_logger, workItem.InstanceId, ex);
            await _store.AbandonOrchestrationAsync(workItem, _options.ErrorBackoff, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task ProcessActivityAsync(ActivityWorkItem workItem)
    {
        var request = workItem.Request;
        using var span = EngineTelemetry.StartActivitySpan(request);
        var started = Stopwatch.GetTimestamp();
        var result = new HistoryEvent { EventId = -1 };
        var token = _activityShutdown.Token;
        try
        {
            var scope = _services.CreateAsyncScope();
            await using var scopeDisposal = scope.ConfigureAwait(false);
            if (!_registry.TryCreateActivity(request.Name, scope.ServiceProvider, out var activity))
            {
                throw new ActivityNotFoundException(request.Name);
            }

            var input = _converter.Deserialize(request.Input, activity!.InputType);
            var output = await activity.RunAsync(
                new TaskActivityContext(request.Name, workItem.InstanceId, request.TaskId, token), input).ConfigureAwait(false);
            result.TaskCompleted = new TaskCompletedEvent { TaskScheduledId = request.TaskId, Result = _converter.Serialize(output) };
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            Log.ActivityInterrupted(_logger, workItem.InstanceId, request.Name, request.TaskId);
            await _store.AbandonActivityAsync(workItem, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            return;
        }
        catch (Exception ex)
        {
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            span?.SetTag(EngineTelemetry.ErrorTypeTag, ex.GetType().FullName);
            result.TaskFailed = new TaskFailedEvent { TaskScheduledId = request.TaskId, FailureDetails = FailureDetails.FromException(ex).ToProto() };
        }

        result.Timestamp = Timestamp.FromDateTime(_time.GetUtcNow().UtcDateTime);
        EngineTelemetry.RecordActivity(request.Name, Stopwatch.GetElapsedTime(started), result.TaskFailed is null);
        span?.Dispose(); // The span is the execution; it ends before the result can move the orchestration on.
        Log.ActivityFinished(_logger, workItem.InstanceId, request.Name, request.TaskId, result.TaskFailed is null ? "completed" : "failed");
        try
        {
            await _store.CompleteActivityAsync(workItem, result, CancellationToken.None).ConfigureAwait(false);
        }
        catch (LeaseLostException)
        {
            Log.LeaseLost(_logger, workItem.InstanceId);
        }
    }

    private async Task ProcessEntityAsync(EntityWorkItem workItem)
    {
        try
        {
            var scope = _services.CreateAsyncScope();
            await using var scopeDisposal = scope.ConfigureAwait(false);
            var executor = new EntityExecutor(_registry, scope.ServiceProvider, _converter, _time);
            var result = await executor.ExecuteAsync(workItem).ConfigureAwait(false);
            await _store.CompleteEntityAsync(workItem, result, CancellationToken.None).ConfigureAwait(false);
        }
        catch (LeaseLostException)
        {
            Log.LeaseLost(_logger, workItem.InstanceId);
        }
        catch (Exception ex)
        {
            Log.EntityBatchAbandoned(_logger, workItem.InstanceId, ex);
            await _store.AbandonEntityAsync(workItem, _options.ErrorBackoff, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task RenewLeasesAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.LeaseDuration / 3, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                foreach (var item in _inFlight.Keys)
                {
                    _store.RenewLease(item, _options.LeaseDuration);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }
}

/// <summary>An activity name that no registered activity has.</summary>
public sealed class ActivityNotFoundException : DurableTaskException, INonRetriable
{
    /// <summary>Creates the exception.</summary>
    public ActivityNotFoundException(string name)
        : base($"No activity named '{name}' is registered with this worker.")
    {
    }
}
