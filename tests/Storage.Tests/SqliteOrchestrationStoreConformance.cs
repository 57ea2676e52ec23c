using KataWorkflows.Engine.Storage;
using KataWorkflows.Storage.Sqlite;

namespace KataWorkflows.Storage.Tests;

/// <summary>The conformance suite over <see cref="SqliteStoreBackend"/>: a database file per location, deleted after the case.</summary>
public sealed class SqliteOrchestrationStoreConformance : OrchestrationStoreConformance
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kata-storage-tests", Guid.NewGuid().ToString("N"));

    private string PathOf(StoreLocation location) => Path.Combine(_directory, location.Name + ".db");

    private SqliteStoreBackend CreateBackend(StoreLocation location) =>
        new(new SqliteStoreOptions { Path = PathOf(location), Synchronous = SqliteSynchronousMode.Full }, logger: null);

    /// <inheritdoc />
    protected override Task<IOrchestrationStore> CreateStoreAsync(StoreLocation location)
    {
        ArgumentNullException.ThrowIfNull(location);
        return Task.FromResult(CreateStoreOver(CreateBackend(location), location));
    }

    /// <inheritdoc />
    protected override async Task<RecoveredState> ReadDurableStateAsync(StoreLocation location)
    {
        ArgumentNullException.ThrowIfNull(location);
        var backend = CreateBackend(location);
        await using (backend)
        {
            return await backend.OpenAsync(Ct);
        }
    }

    /// <inheritdoc />
    protected override ValueTask DeleteLocationsAsync()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }

        return ValueTask.CompletedTask;
    }
}
