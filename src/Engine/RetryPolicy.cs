namespace KataWorkflows.Engine;

/// <summary>
/// How an orchestration retries a failed activity or sub-orchestration. Each retry is a new scheduled task,
/// preceded by a durable timer, so the waits are visible in history and survive a restart.
/// </summary>
public sealed record RetryPolicy
{
    /// <summary>Creates a policy.</summary>
    /// <param name="maxNumberOfAttempts">Attempts in all, the first included; at least 1.</param>
    /// <param name="firstRetryInterval">The wait before the first retry; greater than zero.</param>
    /// <param name="backoffCoefficient">The factor each wait grows by; at least 1.</param>
    /// <param name="maxRetryInterval">The cap on one wait; defaults to one hour, at least the first interval.</param>
    /// <param name="retryTimeout">No retry starts after this much time since the first attempt; infinite by default.</param>
    public RetryPolicy(
        int maxNumberOfAttempts,
        TimeSpan firstRetryInterval,
        double backoffCoefficient = 1.0,
        TimeSpan? maxRetryInterval = null,
        TimeSpan? retryTimeout = null)
    {
        if (maxNumberOfAttempts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxNumberOfAttempts), maxNumberOfAttempts, "At least one attempt is required.");
        }

        if (firstRetryInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(firstRetryInterval), firstRetryInterval, "The first retry interval must be greater than zero.");
        }

        if (backoffCoefficient < 1.0 || double.IsNaN(backoffCoefficient))
        {
            throw new ArgumentOutOfRangeException(nameof(backoffCoefficient), backoffCoefficient, "The backoff coefficient must be at least 1.");
        }

        var max = maxRetryInterval ?? TimeSpan.FromHours(1);
        if (max < firstRetryInterval)
        {
            throw new ArgumentOutOfRangeException(nameof(maxRetryInterval), max, "The maximum retry interval must not be less than the first retry interval.");
        }

        var timeout = retryTimeout ?? Timeout.InfiniteTimeSpan;
        if (timeout != Timeout.InfiniteTimeSpan && timeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(retryTimeout), timeout, "The retry timeout must not be negative.");
        }

        MaxNumberOfAttempts = maxNumberOfAttempts;
        FirstRetryInterval = firstRetryInterval;
        BackoffCoefficient = backoffCoefficient;
        MaxRetryInterval = max;
        RetryTimeout = timeout;
    }

    /// <summary>Attempts in all, the first included.</summary>
    public int MaxNumberOfAttempts { get; }

    /// <summary>The wait before the first retry.</summary>
    public TimeSpan FirstRetryInterval { get; }

    /// <summary>The factor each wait grows by.</summary>
    public double BackoffCoefficient { get; }

    /// <summary>The cap on one wait.</summary>
    public TimeSpan MaxRetryInterval { get; }

    /// <summary>No retry starts after this much time since the first attempt.</summary>
    public TimeSpan RetryTimeout { get; }

    /// <summary>
    /// Decides whether a failure is retried at all; by default every failure not marked non-retriable is.
    /// Must be deterministic: it runs inside orchestration code.
    /// </summary>
    public Func<FailureDetails, bool>? Handle { get; init; }

    /// <summary>The wait before retry number <paramref name="retry"/> (1 for the first retry).</summary>
    public TimeSpan GetDelay(int retry)
    {
        var ticks = FirstRetryInterval.Ticks * Math.Pow(BackoffCoefficient, retry - 1);
        return ticks >= MaxRetryInterval.Ticks ? MaxRetryInterval : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>True when the failure may be retried under this policy.</summary>
    public bool ShouldRetry(FailureDetails failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        return !failure.IsNonRetriable && (Handle?.Invoke(failure) ?? true);
    }
}

/// <summary>Options for one scheduled task.</summary>
/// <param name="Retry">The retry policy; none by default.</param>
public sealed record TaskOptions(RetryPolicy? Retry = null)
{
    /// <summary>Options with the given retry policy.</summary>
    public static TaskOptions FromRetryPolicy(RetryPolicy policy) => new(policy);
}

/// <summary>Options for a sub-orchestration.</summary>
/// <param name="InstanceId">The child's instance id; a deterministic new id when null.</param>
/// <param name="Retry">The retry policy; none by default.</param>
public sealed record SubOrchestrationOptions(string? InstanceId = null, RetryPolicy? Retry = null);
