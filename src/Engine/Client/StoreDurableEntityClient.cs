using System.Text.Json;
using KataWorkflows.Engine.Storage;
using Dt = Microsoft.DurableTask;
using DtClient = Microsoft.DurableTask.Client;
using DtEntities = Microsoft.DurableTask.Client.Entities;

namespace KataWorkflows.Engine.Client;

/// <summary>
/// The SDK's <see cref="DtEntities.DurableEntityClient"/> over the store: <see cref="StoreDurableTaskClient.Entities"/>.
/// </summary>
/// <remarks>
/// Entities are listed by instance id (<c>@name@key</c>), a page at a time; a page's continuation token marks its last
/// entity. The last-modified bounds of a query filter each page as the store returns it, so a page can hold fewer
/// entities than its size and still have a next page.
/// </remarks>
public sealed class StoreDurableEntityClient : DtEntities.DurableEntityClient
{
    private readonly IOrchestrationStore _store;
    private readonly Dt.DataConverter _converter;

    /// <summary>Creates the entity client of a store client.</summary>
    internal StoreDurableEntityClient(string name, IOrchestrationStore store, Dt.DataConverter converter)
        : base(name)
    {
        _store = store;
        _converter = converter;
    }

    /// <inheritdoc />
    /// <remarks>The operation goes to the entity's inbox (created if needed), to run at <see cref="Dt.Entities.SignalEntityOptions.SignalTime"/> when given.</remarks>
    /// <exception cref="ArgumentException">The id or operation name is empty, or the input cannot be serialized.</exception>
    public override async Task SignalEntityAsync(
        Dt.Entities.EntityInstanceId id, string operationName, object? input = null, Dt.Entities.SignalEntityOptions? options = null, CancellationToken cancellation = default)
    {
        EntityIds.Check(id, nameof(id));
        if (string.IsNullOrWhiteSpace(operationName))
        {
            throw new ArgumentException("The operation name is empty.", nameof(operationName));
        }

        var json = Serialize(_converter, input, nameof(input), $"the input of operation '{operationName}' on {EntityIds.Describe(id)}");
        await _store.StartAsync(cancellation).ConfigureAwait(false);
        await _store.SignalEntityAsync(EntityIds.ToStore(id), operationName, json, options?.SignalTime?.UtcDateTime, cancellation).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task<DtEntities.EntityMetadata?> GetEntityAsync(Dt.Entities.EntityInstanceId id, bool includeState = true, CancellationToken cancellation = default)
    {
        var entity = await GetAsync(id, includeState, cancellation).ConfigureAwait(false);
        return entity is null ? null : ToSdk(entity, includeState);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The stored state cannot be read as <typeparamref name="T"/>.</exception>
    public override async Task<DtEntities.EntityMetadata<T>?> GetEntityAsync<T>(Dt.Entities.EntityInstanceId id, bool includeState = true, CancellationToken cancellation = default)
    {
        var entity = await GetAsync(id, includeState, cancellation).ConfigureAwait(false);
        return entity is null ? null : ToSdk<T>(entity, includeState);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The page size is not between 1 and 1000, or the token was not returned by a query (enumerating throws it).</exception>
    public override Dt.AsyncPageable<DtEntities.EntityMetadata> GetAllEntitiesAsync(DtEntities.EntityQuery? filter = null) =>
        Query(filter, (e, state) => ToSdk(e, state));

    /// <inheritdoc />
    public override Dt.AsyncPageable<DtEntities.EntityMetadata<T>> GetAllEntitiesAsync<T>(DtEntities.EntityQuery? filter = null) =>
        Query(filter, (e, state) => ToSdk<T>(e, state));

    /// <inheritdoc />
    /// <remarks>One pass cleans the whole store: the result never has a continuation token.</remarks>
    public override async Task<DtEntities.CleanEntityStorageResult> CleanEntityStorageAsync(
        DtEntities.CleanEntityStorageRequest? request = null, bool continueUntilComplete = true, CancellationToken cancellation = default)
    {
        var r = request ?? DtEntities.CleanEntityStorageRequest.Default;
        await _store.StartAsync(cancellation).ConfigureAwait(false);
        var result = await _store.CleanEntityStorageAsync(r.RemoveEmptyEntities, r.ReleaseOrphanedLocks, cancellation).ConfigureAwait(false);
        return new DtEntities.CleanEntityStorageResult
        {
            EmptyEntitiesRemoved = result.EmptyEntitiesRemoved,
            OrphanedLocksReleased = result.OrphanedLocksReleased,
            ContinuationToken = null,
        };
    }

    /// <summary>The store's record of an entity (lock holder and critical section included); null when it does not exist.</summary>
    public async Task<EntityMetadata?> GetEntityRecordAsync(EntityInstanceId id, bool includeState = true, CancellationToken cancellation = default)
    {
        await _store.StartAsync(cancellation).ConfigureAwait(false);
        return await _store.GetEntityAsync(id, includeState, cancellation).ConfigureAwait(false);
    }

    /// <summary>One page of the store's entity records, as the store keeps them (lock holder and critical section included).</summary>
    /// <exception cref="ArgumentException">The page size is not between 1 and 1000.</exception>
    public async Task<EntityPage> QueryEntityRecordsAsync(EntityListQuery query, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.PageSize is < 1 or > OrchestrationQuery.MaxPageSize)
        {
            throw new ArgumentException($"PageSize must be between 1 and {OrchestrationQuery.MaxPageSize}, not {query.PageSize}.", nameof(query));
        }

        await _store.StartAsync(cancellation).ConfigureAwait(false);
        return await _store.QueryEntitiesAsync(query, cancellation).ConfigureAwait(false);
    }

    /// <summary>Serializes a payload with a converter; what cannot be serialized is an argument error naming the parameter.</summary>
    internal static string? Serialize(Dt.DataConverter converter, object? value, string parameterName, string what)
    {
        if (value is null)
        {
            return null;
        }

        try
        {
            return converter.Serialize(value);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
        {
            throw new ArgumentException($"{parameterName}: {what} cannot be serialized: {ex.Message}", parameterName, ex);
        }
    }

    private async Task<EntityMetadata?> GetAsync(Dt.Entities.EntityInstanceId id, bool includeState, CancellationToken cancellation)
    {
        EntityIds.Check(id, nameof(id));
        await _store.StartAsync(cancellation).ConfigureAwait(false);
        return await _store.GetEntityAsync(EntityIds.ToStore(id), includeState, cancellation).ConfigureAwait(false);
    }

    private Dt.AsyncPageable<TEntity> Query<TEntity>(DtEntities.EntityQuery? filter, Func<EntityMetadata, bool, TEntity> map)
        where TEntity : notnull
    {
        var includeState = filter?.IncludeState ?? true;
        DateTime? from = filter?.LastModifiedFrom?.UtcDateTime, to = filter?.LastModifiedTo?.UtcDateTime;
        return Dt.Pageable.Create<TEntity>(async (token, pageSize, cancellation) =>
        {
            var page = await QueryEntityRecordsAsync(
                new EntityListQuery
                {
                    InstanceIdStartsWith = filter?.InstanceIdStartsWith,
                    IncludeState = includeState,
                    IncludeTransient = filter?.IncludeTransient ?? false,
                    PageSize = pageSize ?? filter?.PageSize ?? DtEntities.EntityQuery.DefaultPageSize,
                    ContinuationToken = token ?? filter?.ContinuationToken,
                },
                cancellation).ConfigureAwait(false);
            var entities = page.Entities
                .Where(e => (from is null || e.LastModifiedAt >= from) && (to is null || e.LastModifiedAt < to))
                .Select(e => map(e, includeState))
                .ToList();
            return new Dt.Page<TEntity>(entities, page.ContinuationToken);
        });
    }

    private DtEntities.EntityMetadata ToSdk(EntityMetadata e, bool includeState) =>
        new(EntityIds.ToSdk(e.Id), includeState && e.SerializedState is { } state ? new DtClient.SerializedData(state, _converter) : null)
        {
            LastModifiedTime = new DateTimeOffset(DateTime.SpecifyKind(e.LastModifiedAt, DateTimeKind.Utc)),
            BacklogQueueSize = e.BacklogQueueSize,
            LockedBy = e.LockedBy,
        };

    private DtEntities.EntityMetadata<T> ToSdk<T>(EntityMetadata e, bool includeState)
    {
        var id = EntityIds.ToSdk(e.Id);
        var modified = new DateTimeOffset(DateTime.SpecifyKind(e.LastModifiedAt, DateTimeKind.Utc));
        if (!includeState || e.SerializedState is not { } state)
        {
            return new DtEntities.EntityMetadata<T>(id) { LastModifiedTime = modified, BacklogQueueSize = e.BacklogQueueSize, LockedBy = e.LockedBy };
        }

        T value;
        try
        {
            value = _converter.Deserialize<T>(state)!;
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidCastException)
        {
            throw new ArgumentException($"The state of entity {id} cannot be read as {typeof(T).FullName}: {ex.Message}", nameof(T), ex);
        }

        return new DtEntities.EntityMetadata<T>(id, value) { LastModifiedTime = modified, BacklogQueueSize = e.BacklogQueueSize, LockedBy = e.LockedBy };
    }
}
