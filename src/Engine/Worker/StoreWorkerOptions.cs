using SdkWorkerOptions = Microsoft.DurableTask.Worker.DurableTaskWorkerOptions;

namespace KataWorkflows.Engine.Worker;

/// <summary>
/// Settings of a <see cref="StoreDurableTaskWorker"/>: the SDK's worker options (data converter, entity support,
/// maximum timer interval, copied from the builder's <c>DurableTaskWorkerOptions</c> by <c>UseBuildTarget</c>) and
/// what the store's dispatch loop needs on top of them.
/// </summary>
public sealed class StoreWorkerOptions : SdkWorkerOptions
{
    /// <summary>
    /// Creates the options with what the store's worker needs of the SDK's: entity support on, and the engine's JSON
    /// settings (camelCase, enums as strings) as the data converter, so payloads read and write as the store's client
    /// and the stored histories have them. (Built through <c>UseStore</c>, the SDK copies its own options over these;
    /// <c>UseStore</c> sets them the same way.)
    /// </summary>
    public StoreWorkerOptions()
    {
        EnableEntitySupport = true;
        DataConverter = new Microsoft.DurableTask.Converters.JsonDataConverter(Serialization.DataConverter.Default.Options);
    }

    /// <summary>Orchestration episodes run at once.</summary>
    public int MaxConcurrentOrchestrations { get; set; } = Environment.ProcessorCount * 4;

    /// <summary>Activities run at once.</summary>
    public int MaxConcurrentActivities { get; set; } = 64;

    /// <summary>Entity batches run at once.</summary>
    public int MaxConcurrentEntities { get; set; } = Environment.ProcessorCount * 2;

    /// <summary>How long a work item is held before another worker may take it; renewed every third of it while it runs.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest a dispatcher sleeps without a wake-up before it looks again.</summary>
    public TimeSpan IdlePollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The pause after a work item failed to be processed or committed.</summary>
    public TimeSpan ErrorBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long shutdown waits for work in flight.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Orchestrations whose code is kept waiting in memory between episodes (extended sessions), so an episode runs
    /// only its new events instead of replaying the whole history; 0 replays every episode from the start.
    /// </summary>
    public int MaxOrchestrationSessions { get; set; } = 1024;

    /// <summary>The worker's name in logs.</summary>
    public string WorkerId { get; set; } = $"{Environment.MachineName}:{Environment.ProcessId}";

    /// <summary>Checks the settings; the message names the bad key.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public void Validate()
    {
        Positive(MaxConcurrentOrchestrations, nameof(MaxConcurrentOrchestrations));
        Positive(MaxConcurrentActivities, nameof(MaxConcurrentActivities));
        Positive(MaxConcurrentEntities, nameof(MaxConcurrentEntities));
        if (MaxOrchestrationSessions < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxOrchestrationSessions), MaxOrchestrationSessions, "MaxOrchestrationSessions must be 0 or more.");
        }

        if (LeaseDuration < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(LeaseDuration), LeaseDuration, "LeaseDuration must be at least one second.");
        }

        if (IdlePollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(IdlePollInterval), IdlePollInterval, "IdlePollInterval must be greater than zero.");
        }

        if (!EnableEntitySupport)
        {
            throw new ArgumentOutOfRangeException(
                nameof(EnableEntitySupport), EnableEntitySupport, "EnableEntitySupport must be true: the store runs entities and the sandbox orchestrations lock them.");
        }

        static void Positive(int value, string name)
        {
            if (value < 1)
            {
                throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1.");
            }
        }
    }
}
