namespace KataWorkflows.Engine.Storage;

/// <summary>
/// A filtered, paged listing of instances, ordered by creation time then instance id (or the reverse, with
/// <see cref="NewestFirst"/>). The continuation token of a page marks the last instance returned, so paging never
/// skips or repeats an instance.
/// </summary>
public sealed record OrchestrationQuery
{
    /// <summary>The largest page size a store returns.</summary>
    public const int MaxPageSize = 1000;

    /// <summary>Only instances in one of these statuses; all when null or empty.</summary>
    public IReadOnlyCollection<OrchestrationRuntimeStatus>? Statuses { get; init; }

    /// <summary>Only instances created at or after this time.</summary>
    public DateTime? CreatedFrom { get; init; }

    /// <summary>Only instances created before this time.</summary>
    public DateTime? CreatedTo { get; init; }

    /// <summary>Only instances whose id starts with this text.</summary>
    public string? InstanceIdPrefix { get; init; }

    /// <summary>Only instances of this orchestrator name.</summary>
    public string? Name { get; init; }

    /// <summary>Only instances that have every one of these tags with these values; no tag filter when null or empty.</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>Newest first: descending creation time, then descending instance id.</summary>
    public bool NewestFirst { get; init; }

    /// <summary>Instances per page, 1 to <see cref="MaxPageSize"/>.</summary>
    public int PageSize { get; init; } = 100;

    /// <summary>The token of the previous page; null for the first.</summary>
    public string? ContinuationToken { get; init; }

    /// <summary>Whether inputs, outputs and custom statuses are returned.</summary>
    public bool IncludePayloads { get; init; }

    /// <summary>True when an instance passes every filter of this query (the page position aside).</summary>
    public bool Matches(OrchestrationMetadata instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        return (Statuses is null || Statuses.Count == 0 || Statuses.Contains(instance.Status))
            && (CreatedFrom is null || instance.CreatedAt >= CreatedFrom)
            && (CreatedTo is null || instance.CreatedAt < CreatedTo)
            && (InstanceIdPrefix is null || instance.InstanceId.StartsWith(InstanceIdPrefix, StringComparison.Ordinal))
            && (Name is null || string.Equals(instance.Name, Name, StringComparison.OrdinalIgnoreCase))
            && (Tags is null || Tags.All(t => instance.Tags.TryGetValue(t.Key, out var value) && value == t.Value));
    }

    /// <summary>Checks the query; the message names the bad field.</summary>
    /// <exception cref="ArgumentException">A field is out of range.</exception>
    public void Validate()
    {
        if (PageSize is < 1 or > MaxPageSize)
        {
            throw new ArgumentException($"PageSize must be between 1 and {MaxPageSize}, not {PageSize}.", nameof(PageSize));
        }

        if (CreatedFrom is { } from && CreatedTo is { } to && from > to)
        {
            throw new ArgumentException($"CreatedFrom ({from:o}) is after CreatedTo ({to:o}).", nameof(CreatedFrom));
        }

        if (ContinuationToken is not null)
        {
            _ = PageToken.Parse(ContinuationToken);
        }
    }
}

/// <summary>One page of a query.</summary>
/// <param name="Instances">The instances of this page.</param>
/// <param name="ContinuationToken">The token for the next page; null when this is the last.</param>
public sealed record InstancePage(IReadOnlyList<OrchestrationMetadata> Instances, string? ContinuationToken);

/// <summary>Which terminal instances a purge removes.</summary>
public sealed record PurgeFilter
{
    /// <summary>Only instances created at or after this time.</summary>
    public DateTime? CreatedFrom { get; init; }

    /// <summary>Only instances created before this time.</summary>
    public DateTime? CreatedTo { get; init; }

    /// <summary>Only these statuses (terminal ones only); all terminal statuses when null or empty.</summary>
    public IReadOnlyCollection<OrchestrationRuntimeStatus>? Statuses { get; init; }

    /// <summary>True when a terminal instance passes this filter.</summary>
    public bool Matches(OrchestrationMetadata instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        return instance.IsTerminal
            && (Statuses is null || Statuses.Count == 0 || Statuses.Contains(instance.Status))
            && (CreatedFrom is null || instance.CreatedAt >= CreatedFrom)
            && (CreatedTo is null || instance.CreatedAt < CreatedTo);
    }

    /// <summary>Checks the filter; the message names the bad field.</summary>
    /// <exception cref="ArgumentException">A non-terminal status was given.</exception>
    public void Validate()
    {
        foreach (var status in Statuses ?? [])
        {
            if (!status.IsTerminal())
            {
                throw new ArgumentException($"Statuses: only terminal instances can be purged, not {status}.", nameof(Statuses));
            }
        }
    }
}

/// <summary>The keyset position encoded in a continuation token: creation time and instance id of the last row.</summary>
public readonly record struct PageToken(DateTime CreatedAt, string InstanceId)
{
    /// <summary>Encodes the token.</summary>
    public override string ToString() =>
        Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{CreatedAt.Ticks}:{InstanceId}"));

    /// <summary>Decodes a token.</summary>
    /// <exception cref="ArgumentException">The token was not made by this store.</exception>
    public static PageToken Parse(string token)
    {
        try
        {
            var text = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(token));
            var split = text.IndexOf(':', StringComparison.Ordinal);
            var ticks = long.Parse(text.AsSpan(0, split), System.Globalization.CultureInfo.InvariantCulture);
            return new PageToken(new DateTime(ticks, DateTimeKind.Utc), text[(split + 1)..]);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or OverflowException)
        {
            throw new ArgumentException("ContinuationToken is not a token returned by a previous query.", nameof(token), ex);
        }
    }
}
