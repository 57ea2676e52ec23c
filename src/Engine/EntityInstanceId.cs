namespace KataWorkflows.Engine;

/// <summary>
/// Identifies a durable entity: a name (lower-cased, as every Durable Task SDK does) and a key. Its instance id
/// in the store is <c>@name@key</c>.
/// </summary>
public readonly record struct EntityInstanceId
{
    /// <summary>Creates an id.</summary>
    /// <exception cref="ArgumentException">The name is empty or contains '@', or the key is empty.</exception>
    public EntityInstanceId(string name, string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (name.Contains('@', StringComparison.Ordinal))
        {
            throw new ArgumentException($"An entity name must not contain '@': '{name}'.", nameof(name));
        }

        Name = NormalizeName(name);
        Key = key;
    }

    /// <summary>The entity name, lower-cased.</summary>
    public string Name { get; }

    /// <summary>The entity key.</summary>
    public string Key { get; }

    /// <summary>True when an instance id names an entity (<c>@name@key</c>).</summary>
    public static bool IsEntityInstanceId(string? instanceId) =>
        instanceId is { Length: > 2 } && instanceId[0] == '@' && instanceId.IndexOf('@', 1) > 1;

    /// <summary>Parses <c>@name@key</c>.</summary>
    /// <exception cref="FormatException">The text is not an entity instance id.</exception>
    public static EntityInstanceId Parse(string instanceId)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        if (!IsEntityInstanceId(instanceId))
        {
            throw new FormatException($"'{instanceId}' is not an entity instance id of the form @name@key.");
        }

        var split = instanceId.IndexOf('@', 1);
        var key = instanceId[(split + 1)..];
        if (key.Length == 0)
        {
            throw new FormatException($"'{instanceId}' has an empty entity key.");
        }

        return new EntityInstanceId(instanceId[1..split], key);
    }

    /// <summary>Lower-cases an entity name the way ids are stored.</summary>
    public static string NormalizeName(string name) => name.ToLowerInvariant();

    /// <summary>The store's form of the SDK's entity id (the SDK lower-cases names too).</summary>
    public static implicit operator EntityInstanceId(Microsoft.DurableTask.Entities.EntityInstanceId id) => new(id.Name, id.Key);

    /// <summary>The SDK's form of the store's entity id.</summary>
    public static implicit operator Microsoft.DurableTask.Entities.EntityInstanceId(EntityInstanceId id) => new(id.Name, id.Key);

    /// <summary>The store's form of the SDK's entity id.</summary>
    public static EntityInstanceId FromSdk(Microsoft.DurableTask.Entities.EntityInstanceId id) => id;

    /// <summary>The SDK's form of the store's entity id.</summary>
    public Microsoft.DurableTask.Entities.EntityInstanceId ToSdk() => this;

    /// <inheritdoc />
    public override string ToString() => $"@{Name}@{Key}";
}
